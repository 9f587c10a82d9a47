// x86-64 architectural constants: page-table entry bits, control
// registers, MSRs and exception vectors (Intel SDM vol. 3).
#pragma once

#include <cstdint>

namespace xpv::x86 {

namespace pte {
constexpr uint64_t kPresent = 1ULL << 0;
constexpr uint64_t kWritable = 1ULL << 1;
constexpr uint64_t kUser = 1ULL << 2;
constexpr uint64_t kPwt = 1ULL << 3;
constexpr uint64_t kPcd = 1ULL << 4;
constexpr uint64_t kAccessed = 1ULL << 5;
constexpr uint64_t kDirty = 1ULL << 6;
constexpr uint64_t kPse = 1ULL << 7;
constexpr uint64_t kGlobal = 1ULL << 8;
constexpr uint64_t kNx = 1ULL << 63;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ULL;
}  // namespace pte

constexpr unsigned kEntriesPerTable = 512;

constexpr unsigned l4_index(uint64_t va) {
  return (va >> 39) & 511;
}
constexpr unsigned l3_index(uint64_t va) {
  return (va >> 30) & 511;
}
constexpr unsigned l2_index(uint64_t va) {
  return (va >> 21) & 511;
}
constexpr unsigned l1_index(uint64_t va) {
  return (va >> 12) & 511;
}
constexpr unsigned table_index(uint64_t va, unsigned level) {
  return (va >> (3 + 9 * level)) & 511;
}

constexpr bool is_canonical(uint64_t va) {
  return static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) == va;
}

namespace cr0 {
constexpr uint64_t kPe = 1ULL << 0;
constexpr uint64_t kMp = 1ULL << 1;
constexpr uint64_t kEt = 1ULL << 4;
constexpr uint64_t kNe = 1ULL << 5;
constexpr uint64_t kWp = 1ULL << 16;
constexpr uint64_t kPg = 1ULL << 31;
}  // namespace cr0

namespace cr4 {
constexpr uint64_t kPae = 1ULL << 5;
constexpr uint64_t kOsfxsr = 1ULL << 9;
constexpr uint64_t kOsxmmexcpt = 1ULL << 10;
}  // namespace cr4

namespace efer {
constexpr uint64_t kSce = 1ULL << 0;
constexpr uint64_t kLme = 1ULL << 8;
constexpr uint64_t kLma = 1ULL << 10;
constexpr uint64_t kNxe = 1ULL << 11;
}  // namespace efer

namespace rflags {
constexpr uint64_t kCf = 1ULL << 0;
constexpr uint64_t kFixed = 1ULL << 1;
constexpr uint64_t kTf = 1ULL << 8;
constexpr uint64_t kIf = 1ULL << 9;
constexpr uint64_t kDf = 1ULL << 10;
constexpr uint64_t kIopl = 3ULL << 12;
constexpr uint64_t kNt = 1ULL << 14;
constexpr uint64_t kRf = 1ULL << 16;
constexpr uint64_t kVm = 1ULL << 17;
constexpr uint64_t kAc = 1ULL << 18;
}  // namespace rflags

namespace msr {
constexpr uint32_t kSysenterCs = 0x174;
constexpr uint32_t kSysenterEsp = 0x175;
constexpr uint32_t kSysenterEip = 0x176;
constexpr uint32_t kEfer = 0xc0000080;
constexpr uint32_t kStar = 0xc0000081;
constexpr uint32_t kLstar = 0xc0000082;
constexpr uint32_t kCstar = 0xc0000083;
constexpr uint32_t kSyscallMask = 0xc0000084;
constexpr uint32_t kFsBase = 0xc0000100;
constexpr uint32_t kGsBase = 0xc0000101;
constexpr uint32_t kKernelGsBase = 0xc0000102;
}  // namespace msr

namespace vector {
constexpr unsigned kDivideError = 0;
constexpr unsigned kDebug = 1;
constexpr unsigned kNmi = 2;
constexpr unsigned kBreakpoint = 3;
constexpr unsigned kOverflow = 4;
constexpr unsigned kBoundRange = 5;
constexpr unsigned kInvalidOpcode = 6;
constexpr unsigned kDeviceNotAvailable = 7;
constexpr unsigned kDoubleFault = 8;
constexpr unsigned kInvalidTss = 10;
constexpr unsigned kSegmentNotPresent = 11;
constexpr unsigned kStackFault = 12;
constexpr unsigned kGeneralProtection = 13;
constexpr unsigned kPageFault = 14;
constexpr unsigned kX87 = 16;
constexpr unsigned kAlignmentCheck = 17;
constexpr unsigned kMachineCheck = 18;
constexpr unsigned kSimd = 19;
constexpr unsigned kControlProtection = 21;

// Vectors for which the CPU pushes an error code.
constexpr bool has_error_code(unsigned v) {
  return v == kDoubleFault || (v >= kInvalidTss && v <= kPageFault) || v == kAlignmentCheck ||
         v == kControlProtection;
}
const char* mnemonic(unsigned v);  // "#GP", "#PF", ... or "vector"
}  // namespace vector

// Segment descriptors (8 bytes; 16 for system descriptors in long mode).
namespace descriptor {
constexpr uint64_t kCode64Ring0 = 0x00af9b000000ffffULL;  // accessed, so the CPU never writes it
constexpr uint64_t kData32Ring0 = 0x00cf93000000ffffULL;
constexpr uint64_t kCode32Ring3 = 0x00cffb000000ffffULL;
constexpr uint64_t kData32Ring3 = 0x00cff3000000ffffULL;
constexpr uint64_t kCode64Ring3 = 0x00affb000000ffffULL;

struct SystemDescriptor {
  uint64_t low, high;
};
// An available 64-bit TSS at `base` with `limit`.
constexpr SystemDescriptor tss64(uint64_t base, uint32_t limit) {
  uint64_t low = (limit & 0xffffULL) | ((base & 0xffffffULL) << 16) | (0x89ULL << 40) |
                 ((static_cast<uint64_t>(limit) >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
  return {low, base >> 32};
}
}  // namespace descriptor

}  // namespace xpv::x86
