// Machine frames that belong to xpv, not to the guest: the monitor's code
// and tables, the M2P, shared_info. They live in their own memory slot
// above all guest RAM, so no guest RAM frame number can name them.
#pragma once

#include <cstdint>
#include <span>

#include "kvm/memory_region.hpp"

namespace xpv::monitor {

struct Frame {
  uint64_t mfn;
  std::span<uint8_t, 4096> bytes;
  uint64_t* entries() const { return reinterpret_cast<uint64_t*>(bytes.data()); }
};

class HypervisorFrames {
 public:
  HypervisorFrames(kvm::MemoryRegion& region, uint64_t base_mfn);

  // A fresh zeroed frame; throws Error when the region is exhausted.
  Frame allocate();
  bool contains(uint64_t mfn) const { return mfn >= base_mfn_ && mfn < base_mfn_ + nr_frames_; }
  // Host view of a frame this allocator owns; nullptr otherwise.
  uint8_t* host_address(uint64_t mfn) const;
  uint64_t base_mfn() const { return base_mfn_; }
  uint64_t end_mfn() const { return base_mfn_ + nr_frames_; }

 private:
  kvm::MemoryRegion& region_;
  uint64_t base_mfn_;
  uint64_t nr_frames_;
  uint64_t next_ = 0;
};

}  // namespace xpv::monitor
