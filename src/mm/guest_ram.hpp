// The domain's RAM, addressed by machine frame number. The only host view
// of guest RAM: everything that touches guest memory goes through here or
// through GuestVirtualMemory, which checks ownership frame by frame.
#pragma once

#include <cstdint>
#include <span>

#include "kvm/memory_region.hpp"

namespace xpv::mm {

class GuestRam {
 public:
  GuestRam(kvm::MemoryRegion& region, uint64_t base_mfn);

  uint64_t base_mfn() const { return base_mfn_; }
  uint64_t nr_frames() const { return nr_frames_; }
  uint64_t end_mfn() const { return base_mfn_ + nr_frames_; }
  bool owns(uint64_t mfn) const { return mfn >= base_mfn_ && mfn < end_mfn(); }

  // Host view of a frame the domain owns; an empty span otherwise.
  std::span<uint8_t, 4096> frame(uint64_t mfn) const;
  // One page-table entry, read once: the guest may change it concurrently.
  uint64_t load_entry(uint64_t table_mfn, unsigned index) const;

  // Scrubs a frame the domain gave back and returns its memory to the
  // host: a hole punched in the memfd reads as zeros from then on.
  void discard(uint64_t mfn) const;

  const kvm::MemoryRegion& region() const { return region_; }

 private:
  kvm::MemoryRegion& region_;
  uint64_t base_mfn_;
  uint64_t nr_frames_;
};

}  // namespace xpv::mm
