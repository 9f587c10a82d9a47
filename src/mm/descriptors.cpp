#include "mm/descriptors.hpp"

namespace xpv::mm {

namespace {

constexpr uint64_t kPresent = 1ULL << 47;
constexpr uint64_t kCodeOrData = 1ULL << 44;  // the S bit: not a system descriptor
constexpr uint64_t kDplShift = 45;
constexpr uint64_t kDplMask = 3ULL << kDplShift;
constexpr uint64_t kAccessed = 1ULL << 40;

}  // namespace

bool check_descriptor(uint64_t& desc) {
  if ((desc & kPresent) == 0) return true;
  if ((desc & kCodeOrData) == 0) return false;
  // Ring 3 is the most privileged a PV guest gets; and the accessed bit is
  // set so the CPU never writes the descriptor back into the guest's frame.
  desc |= kDplMask | kAccessed;
  return true;
}

}  // namespace xpv::mm
