// Page-table entry bits (Intel SDM vol. 3, 4.5) as the memory-management
// test guests write and read them.
#pragma once

#include <cstdint>

namespace guest_pte {

constexpr uint64_t kPresent = 1ULL << 0;
constexpr uint64_t kWritable = 1ULL << 1;
constexpr uint64_t kUser = 1ULL << 2;
constexpr uint64_t kPwt = 1ULL << 3;
constexpr uint64_t kPcd = 1ULL << 4;
constexpr uint64_t kAccessed = 1ULL << 5;
constexpr uint64_t kDirty = 1ULL << 6;
constexpr uint64_t kPat = 1ULL << 7;  // in an L1 entry; PSE (superpage) above
constexpr uint64_t kPse = 1ULL << 7;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ULL;
// A kernel entry (no US) is stored with US and _PAGE_GUEST_KERNEL (bit 52)
// added: the kernel runs at CPL3 (Xen's adjust_guest_l1e).
constexpr uint64_t kGuestKernel = 1ULL << 52;
constexpr uint64_t kKernelRW = kPresent | kWritable | kAccessed | kDirty;
constexpr uint64_t kKernelRO = kPresent | kAccessed;
// An upper-level entry that lets every level below decide access.
constexpr uint64_t kTable = kPresent | kWritable | kUser | kAccessed;

}  // namespace guest_pte
