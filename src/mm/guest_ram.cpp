#include "mm/guest_ram.hpp"

#include "base/error.hpp"

namespace xpv::mm {

GuestRam::GuestRam(kvm::MemoryRegion& region, uint64_t base_mfn)
    : region_(region), base_mfn_(base_mfn), nr_frames_(region.size() >> 12) {}

std::span<uint8_t, 4096> GuestRam::frame(uint64_t mfn) const {
  if (!owns(mfn)) throw Error("machine frame " + std::to_string(mfn) + " is not guest RAM");
  return std::span<uint8_t, 4096>(region_.data() + ((mfn - base_mfn_) << 12), 4096);
}

uint64_t GuestRam::load_entry(uint64_t table_mfn, unsigned index) const {
  auto* table = reinterpret_cast<const uint64_t*>(frame(table_mfn).data());
  return __atomic_load_n(&table[index & 511], __ATOMIC_RELAXED);
}

}  // namespace xpv::mm
