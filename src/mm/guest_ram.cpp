#include "mm/guest_ram.hpp"

#include <fcntl.h>

#include <cstring>

#include "base/error.hpp"

namespace xpv::mm {

GuestRam::GuestRam(kvm::MemoryRegion& region, uint64_t base_mfn)
    : region_(region), base_mfn_(base_mfn), nr_frames_(region.size() >> 12) {}

std::span<uint8_t, 4096> GuestRam::frame(uint64_t mfn) const {
  if (!owns(mfn)) throw Error("machine frame " + std::to_string(mfn) + " is not guest RAM");
  return std::span<uint8_t, 4096>(region_.data() + ((mfn - base_mfn_) << 12), 4096);
}

void GuestRam::discard(uint64_t mfn) const {
  auto bytes = frame(mfn);
  auto offset = static_cast<off_t>((mfn - base_mfn_) << 12);
  if (::fallocate(region_.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, 4096) != 0)
    std::memset(bytes.data(), 0, bytes.size());  // no hole: scrub it in place
}

uint64_t GuestRam::load_entry(uint64_t table_mfn, unsigned index) const {
  auto* table = reinterpret_cast<const uint64_t*>(frame(table_mfn).data());
  return __atomic_load_n(&table[index & 511], __ATOMIC_RELAXED);
}

}  // namespace xpv::mm
