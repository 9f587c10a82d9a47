#include "monitor/hypervisor_frames.hpp"

#include "base/error.hpp"

namespace xpv::monitor {

HypervisorFrames::HypervisorFrames(kvm::MemoryRegion& region, uint64_t base_mfn)
    : region_(region), base_mfn_(base_mfn), nr_frames_(region.size() >> 12) {}

Frame HypervisorFrames::allocate() {
  if (next_ == nr_frames_) throw Error("hypervisor frame region exhausted");
  uint64_t index = next_++;
  return Frame{base_mfn_ + index, std::span<uint8_t, 4096>(region_.data() + (index << 12), 4096)};
}

uint8_t* HypervisorFrames::host_address(uint64_t mfn) const {
  if (!contains(mfn) || mfn - base_mfn_ >= next_) return nullptr;
  return region_.data() + ((mfn - base_mfn_) << 12);
}

}  // namespace xpv::monitor
