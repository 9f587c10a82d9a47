// The writable-pagetable assist, host side: which stores the decoder
// accepts and what each does to a page-table entry and to the registers
// (hv/pte_write_emulation), and the validated compare-and-exchange that
// writes the result (PageTypes::cmpxchg_entry). Instruction bytes are as
// GNU as assembles them; the guest test mm_assist_test.cpp runs the same
// instructions under KVM.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "base/x86.hpp"
#include "hv/pte_write_emulation.hpp"
#include "kvm/memory_region.hpp"
#include "mm/guest_ram.hpp"
#include "mm/page_types.hpp"
#include "monitor/layout.hpp"
#include "xen/abi.hpp"

namespace xpv {
namespace {

namespace pte = x86::pte;
using hv::GuestRegisters;
using hv::PteWrite;
using hv::PteWriteOp;

// GuestRegisters::gpr indices.
constexpr unsigned kRax = 0, kRcx = 1, kRdx = 2, kRsp = 4, kRsi = 6, kRdi = 7;

constexpr uint64_t kCf = 1 << 0, kPf = 1 << 2, kZf = 1 << 6, kSf = 1 << 7, kOf = 1 << 11;
constexpr uint64_t kRip = 0xffffffff81000000ULL;
constexpr uint64_t kFlags = 0x202;  // IF and the fixed bit, no arithmetic flags
// An entry in the middle of an L1 page, as the guest kernel maps it.
constexpr uint64_t kSlot = 0xffffffff80123000ULL + 8 * 17;
constexpr uint64_t kEntry = 0x8000000012345067ULL;  // NX, P|RW|US|A|D

GuestRegisters registers(std::initializer_list<std::pair<unsigned, uint64_t>> values) {
  GuestRegisters regs;
  regs.rip = kRip;
  regs.rflags = kFlags;
  regs.gpr[kRsp] = 0xffffffff80400000ULL;
  for (auto [index, value] : values)
    regs.gpr[index] = value;
  return regs;
}

std::optional<PteWrite> decode(std::vector<uint8_t> code, const GuestRegisters& regs) {
  return hv::decode_pte_write(code, regs);
}

// --- Decoding --------------------------------------------------------------

TEST(PteWrite, DecodesAMovOfA64BitRegister) {
  auto regs = registers({{kRdi, kSlot}, {kRsi, 0x1111222233334444}});
  auto w = decode({0x48, 0x89, 0x37}, regs);  // mov %rsi,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->op, PteWriteOp::kStore);
  EXPECT_EQ(w->address, kSlot);
  EXPECT_EQ(w->size, 8u);
  EXPECT_EQ(w->length, 3u);
  EXPECT_EQ(w->source, 0x1111222233334444u);
}

TEST(PteWrite, SignExtendsA32BitImmediateToTheQword) {
  auto regs = registers({{kRdi, kSlot - 8}});
  auto w = decode({0x48, 0xc7, 0x47, 0x08, 0xff, 0xff, 0xff, 0xff}, regs);  // movq $-1,8(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, kSlot);
  EXPECT_EQ(w->source, ~0ULL);
  EXPECT_EQ(w->length, 8u);
  w = decode({0x48, 0xc7, 0x07, 0x34, 0x12, 0x00, 0x00}, regs);  // movq $0x1234,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->source, 0x1234u);
}

TEST(PteWrite, ComputesBaseIndexScaleAndDisplacement) {
  auto regs = registers({{kRdi, kSlot - 24}, {kRcx, 3}});
  auto w = decode({0x48, 0x89, 0x34, 0xcf}, regs);  // mov %rsi,(%rdi,%rcx,8)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, kSlot);
}

TEST(PteWrite, RipRelativeCountsFromTheNextInstruction) {
  auto regs = registers({});
  auto w = decode({0x48, 0x89, 0x35, 0x11, 0x00, 0x00, 0x00}, regs);  // mov %rsi,0x11(%rip)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, kRip + 7 + 0x11);
}

TEST(PteWrite, AddressSizeOverrideTruncatesTo32Bits) {
  auto regs = registers({{kRdi, 0xffffffff00001008ULL}});
  auto w = decode({0x67, 0x48, 0x89, 0x37}, regs);  // mov %rsi,(%edi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, 0x1008u);
}

TEST(PteWrite, ReadsByteRegistersIncludingTheHighOnes) {
  auto regs = registers({{kRdi, kSlot - 1}, {kRax, 0xaabbccdd}});
  auto w = decode({0x88, 0x67, 0x01}, regs);  // mov %ah,1(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->size, 1u);
  EXPECT_EQ(w->address, kSlot);
  EXPECT_EQ(w->source, 0xccu);
}

TEST(PteWrite, RefusesWhatIsNotAPlainStoreItHandles) {
  auto regs = registers({{kRdi, kSlot}, {kRcx, 1}});
  const std::vector<std::vector<uint8_t>> refused = {
      {0x64, 0x48, 0x89, 0x37},        // mov %rsi,%fs:(%rdi): fs has a base
      {0x48, 0x8b, 0x37},              // mov (%rdi),%rsi: a load
      {0x48, 0x01, 0x37},              // add %rsi,(%rdi)
      {0xf0, 0x48, 0x0f, 0xc7, 0x0f},  // lock cmpxchg16b (%rdi): 16 bytes
      {0xf3, 0x48, 0xab},              // rep stos
      {0x48, 0x0f, 0xc3, 0x37},        // movnti
      {0x48, 0x89},                    // cut short
      {0x0f, 0x0b},                    // ud2
  };
  for (const auto& code : refused)
    EXPECT_FALSE(decode(code, regs)) << "first byte " << int(code[0]);
}

TEST(PteWrite, RefusesAStoreThatIsNotNaturallyAligned) {
  auto regs = registers({{kRdi, kSlot}});
  EXPECT_FALSE(decode({0x89, 0x77, 0x02}, regs));  // movl %esi,2(%rdi)
  regs.gpr[kRdi] = kSlot + 4;
  EXPECT_FALSE(decode({0x48, 0x89, 0x37}, regs));  // mov %rsi,(%rdi) at +4
  regs.gpr[kRdi] = kSlot + 1;
  EXPECT_FALSE(decode({0x66, 0x89, 0x77, 0x06}, regs));  // movw %si,6(%rdi) at +7
}

// --- What each store does to the entry ------------------------------------

TEST(PteWrite, MovReplacesTheWholeEntry) {
  auto regs = registers({{kRdi, kSlot}, {kRsi, 0x0000000076543003}});
  auto w = decode({0x48, 0x89, 0x37}, regs);
  ASSERT_TRUE(w);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_TRUE(r.stores);
  EXPECT_EQ(r.new_entry, 0x0000000076543003u);
  EXPECT_EQ(r.regs.rip, kRip + 3);
  EXPECT_EQ(r.regs.rflags, kFlags);
  EXPECT_EQ(r.regs.gpr, regs.gpr);
}

TEST(PteWrite, PartialStoresMergeIntoTheEntry) {
  auto regs = registers({{kRdi, kSlot}, {kRsi, 0xdeadbeef0000cafe}});
  auto upper = decode({0x89, 0x77, 0x04}, regs);  // movl %esi,4(%rdi)
  ASSERT_TRUE(upper);
  EXPECT_EQ(hv::apply_pte_write(*upper, kEntry, regs).new_entry, 0x0000cafe12345067u);
  auto top = decode({0x66, 0x89, 0x77, 0x06}, regs);  // movw %si,6(%rdi)
  ASSERT_TRUE(top);
  EXPECT_EQ(hv::apply_pte_write(*top, kEntry, regs).new_entry, 0xcafe000012345067u);
  auto byte = decode({0xc6, 0x07, 0x67}, regs);  // movb $0x67,(%rdi)
  ASSERT_TRUE(byte);
  EXPECT_EQ(hv::apply_pte_write(*byte, 0x8000000012345000ULL, regs).new_entry, kEntry);
}

TEST(PteWrite, XchgStoresTheRegisterAndReturnsTheOldEntry) {
  auto regs = registers({{kRdi, kSlot}, {kRax, 0}});
  auto w = decode({0x48, 0x87, 0x07}, regs);  // xchg %rax,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->op, PteWriteOp::kExchange);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.new_entry, 0u);
  EXPECT_EQ(r.regs.gpr[kRax], kEntry);
  EXPECT_EQ(r.regs.rip, kRip + 3);
  EXPECT_EQ(r.regs.rflags, kFlags);  // xchg leaves the flags alone
}

TEST(PteWrite, XchgWritesRegistersAsTheCpuDoes) {
  // A 32-bit register is zero-extended; a byte register keeps the rest.
  auto regs = registers({{kRdi, kSlot}, {kRcx, 0xffffffff00000000}});
  auto w = decode({0x87, 0x4f, 0x04}, regs);  // xchg %ecx,4(%rdi)
  ASSERT_TRUE(w);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.new_entry, 0x0000000012345067u);
  EXPECT_EQ(r.regs.gpr[kRcx], 0x80000000u);

  regs = registers({{kRdi, kSlot}});
  regs.gpr[kRsp] = 0x1122334455667700;
  w = decode({0x40, 0x86, 0x67, 0x03}, regs);  // xchg %spl,3(%rdi)
  ASSERT_TRUE(w);
  r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.new_entry, 0x8000000000345067u);
  EXPECT_EQ(r.regs.gpr[kRsp], 0x1122334455667712u);
}

TEST(PteWrite, CmpxchgStoresWhenTheAccumulatorMatches) {
  auto regs = registers({{kRdi, kSlot}, {kRax, kEntry}, {kRsi, 0x5000003}});
  auto w = decode({0xf0, 0x48, 0x0f, 0xb1, 0x37}, regs);  // lock cmpxchg %rsi,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->op, PteWriteOp::kCompareExchange);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_TRUE(r.stores);
  EXPECT_EQ(r.new_entry, 0x5000003u);
  EXPECT_EQ(r.regs.gpr[kRax], kEntry);
  EXPECT_EQ(r.regs.rflags & (kZf | kCf | kSf | kOf), kZf);
  EXPECT_EQ(r.regs.rip, kRip + 5);
}

TEST(PteWrite, CmpxchgThatFindsAnotherValueLoadsItAndStoresNothing) {
  auto regs = registers({{kRdi, kSlot}, {kRax, kEntry + 0x1000}, {kRsi, 0}});
  auto w = decode({0xf0, 0x48, 0x0f, 0xb1, 0x37}, regs);
  ASSERT_TRUE(w);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_FALSE(r.stores);
  EXPECT_EQ(r.new_entry, kEntry);
  EXPECT_EQ(r.regs.gpr[kRax], kEntry);
  // CMP rax, entry: rax is the larger, so no borrow, and the difference
  // 0x1000 is positive.
  EXPECT_EQ(r.regs.rflags & (kZf | kCf | kSf | kOf), 0u);
  EXPECT_EQ(r.regs.rip, kRip + 5);

  regs.gpr[kRax] = 1;  // unsigned, below the entry: a borrow
  w = decode({0xf0, 0x48, 0x0f, 0xb1, 0x37}, regs);
  ASSERT_TRUE(w);
  r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.regs.rflags & (kZf | kCf | kOf), kCf);
  regs.gpr[kRax] = 0x7fffffffffffffff;  // signed, max - negative overflows
  w = decode({0xf0, 0x48, 0x0f, 0xb1, 0x37}, regs);
  ASSERT_TRUE(w);
  r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.regs.rflags & (kZf | kCf | kSf | kOf), kCf | kSf | kOf);
}

TEST(PteWrite, Cmpxchg32ComparesItsHalfAndZeroExtendsOnFailure) {
  auto regs = registers({{kRdi, kSlot}, {kRax, 0xffffffff80000001}, {kRsi, 0x80000000}});
  auto w = decode({0xf0, 0x0f, 0xb1, 0x77, 0x04}, regs);  // lock cmpxchg %esi,4(%rdi)
  ASSERT_TRUE(w);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_FALSE(r.stores);
  EXPECT_EQ(r.regs.gpr[kRax], 0x80000000u);

  regs.gpr[kRax] = 0xffffffff80000000;  // upper half of rax is not compared
  regs.gpr[kRsi] = 0;
  w = decode({0xf0, 0x0f, 0xb1, 0x77, 0x04}, regs);
  ASSERT_TRUE(w);
  r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_TRUE(r.stores);
  EXPECT_EQ(r.new_entry, 0x0000000012345067u);
  EXPECT_EQ(r.regs.gpr[kRax], 0xffffffff80000000u);  // untouched on success
}

// ptep_set_wrprotect: lock andb $~_PAGE_RW on the entry's low byte.
TEST(PteWrite, LockAndbClearsRwAndSetsTheLogicFlags) {
  auto regs = registers({{kRdi, kSlot}});
  regs.rflags |= kCf | kOf;
  auto w = decode({0xf0, 0x80, 0x27, 0xfd}, regs);  // lock andb $0xfd,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->op, PteWriteOp::kAnd);
  EXPECT_EQ(w->size, 1u);
  EXPECT_EQ(w->source, 0xfdu);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.new_entry, kEntry & ~pte::kWritable);
  // 0x65: not zero, no sign, four bits set (even parity); CF and OF clear.
  EXPECT_EQ(r.regs.rflags & (kZf | kSf | kPf | kCf | kOf), kPf);
  EXPECT_EQ(r.regs.rip, kRip + 4);
}

TEST(PteWrite, LogicOpsWithSignExtendedImmediates) {
  auto regs = registers({{kRdi, kSlot}});
  auto andq = decode({0xf0, 0x48, 0x83, 0x27, 0xfd}, regs);  // lock andq $-3,(%rdi)
  ASSERT_TRUE(andq);
  auto r = hv::apply_pte_write(*andq, kEntry, regs);
  EXPECT_EQ(r.new_entry, kEntry & ~pte::kWritable);
  EXPECT_EQ(r.regs.rflags & kSf, kSf);  // bit 63 (NX) survives

  auto orq = decode({0xf0, 0x48, 0x83, 0x0f, 0x02}, regs);  // lock orq $2,(%rdi)
  ASSERT_TRUE(orq);
  EXPECT_EQ(hv::apply_pte_write(*orq, 0x12345065, regs).new_entry, 0x12345067u);

  auto xorq = decode({0xf0, 0x48, 0x83, 0x37, 0x40}, regs);  // lock xorq $0x40,(%rdi)
  ASSERT_TRUE(xorq);
  EXPECT_EQ(hv::apply_pte_write(*xorq, kEntry, regs).new_entry, kEntry & ~pte::kDirty);
}

// ptep_test_and_clear_young: lock btrq $_PAGE_BIT_ACCESSED.
TEST(PteWrite, BtrClearsTheBitAndReturnsItInCf) {
  auto regs = registers({{kRdi, kSlot}});
  auto w = decode({0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05}, regs);  // lock btrq $5,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->op, PteWriteOp::kBitReset);
  EXPECT_EQ(w->source, 5u);
  auto r = hv::apply_pte_write(*w, kEntry, regs);
  EXPECT_EQ(r.new_entry, kEntry & ~pte::kAccessed);
  EXPECT_EQ(r.regs.rflags & kCf, kCf);
  EXPECT_EQ(r.regs.rip, kRip + 6);
  r = hv::apply_pte_write(*w, r.new_entry, r.regs);
  EXPECT_EQ(r.new_entry, kEntry & ~pte::kAccessed);
  EXPECT_EQ(r.regs.rflags & kCf, 0u);
}

TEST(PteWrite, BtsAndBtcSetAndFlipBits) {
  auto regs = registers({{kRdi, kSlot}});
  auto bts = decode({0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x01}, regs);  // lock btsq $1,(%rdi)
  ASSERT_TRUE(bts);
  auto r = hv::apply_pte_write(*bts, 0x12345065, regs);
  EXPECT_EQ(r.new_entry, 0x12345067u);
  EXPECT_EQ(r.regs.rflags & kCf, 0u);
  auto btc = decode({0xf0, 0x48, 0x0f, 0xba, 0x3f, 0x3f}, regs);  // lock btcq $63,(%rdi)
  ASSERT_TRUE(btc);
  r = hv::apply_pte_write(*btc, kEntry, regs);
  EXPECT_EQ(r.new_entry, kEntry & ~pte::kNx);
  EXPECT_EQ(r.regs.rflags & kCf, kCf);
}

TEST(PteWrite, BitOffsetInARegisterPicksTheQwordHoldingTheBit) {
  auto regs = registers({{kRdi, kSlot - 8}, {kRcx, 64 + 5}});
  auto w = decode({0xf0, 0x48, 0x0f, 0xb3, 0x0f}, regs);  // lock btr %rcx,(%rdi)
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, kSlot);
  EXPECT_EQ(w->source, 5u);
  regs = registers({{kRdi, kSlot + 8}, {kRcx, static_cast<uint64_t>(-64 + 5)}});
  w = decode({0xf0, 0x48, 0x0f, 0xb3, 0x0f}, regs);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, kSlot);
  EXPECT_EQ(w->source, 5u);
}

// --- PageTypes::cmpxchg_entry ----------------------------------------------

constexpr uint64_t kBaseMfn = monitor::kRamBaseMfn;
constexpr uint64_t kFrames = 16;
constexpr uint64_t kSharedInfoMfn = monitor::kHypervisorBaseMfn + 3;
constexpr uint64_t kGuestKernel = 1ULL << 52;
constexpr uint64_t kRO = pte::kPresent | pte::kAccessed;
constexpr uint64_t kRW = kRO | pte::kWritable;
constexpr long kEinval = xen::error(XEN_EINVAL);

constexpr uint64_t entry(uint64_t mfn, uint64_t flags) {
  return (mfn << 12) | flags;
}

class RoPageFaultCmpxchgEntry : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(types_.pin(kL1, 1), 0); }

  uint64_t* table(uint64_t mfn) { return reinterpret_cast<uint64_t*>(ram_.frame(mfn).data()); }
  uint64_t slot(unsigned index) { return ram_.load_entry(kL1, index); }

  static constexpr uint64_t kL1 = kBaseMfn;
  static constexpr uint64_t kData = kBaseMfn + 1;
  static constexpr uint64_t kOther = kBaseMfn + 2;

  kvm::MemoryRegion region_{"ro-page-fault-test", kFrames * 4096};
  mm::GuestRam ram_{region_, kBaseMfn};
  mm::PageTypes types_{ram_, [](uint64_t mfn) { return mfn == kSharedInfoMfn; }, [](uint64_t*) {}};
};

TEST_F(RoPageFaultCmpxchgEntry, WritesTheValidatedEntryWhenTheExpectedValueIsThere) {
  uint64_t actual = 1;
  ASSERT_EQ(types_.cmpxchg_entry(kL1, 7, 0, entry(kData, kRW), &actual, mm::PageType::kL1), 0);
  EXPECT_EQ(actual, 0u);
  // As update_entry stores it: a kernel page gets US and Xen's tag.
  EXPECT_EQ(slot(7), entry(kData, kRW) | pte::kUser | kGuestKernel);
  EXPECT_EQ(types_.info(kData).type, mm::PageType::kWritable);
  EXPECT_EQ(types_.info(kData).mappings, 1u);
  EXPECT_EQ(types_.check_invariants(), "");
}

TEST_F(RoPageFaultCmpxchgEntry, DropsTheReferencesOfTheEntryItReplaces) {
  uint64_t actual = 0;
  ASSERT_EQ(types_.cmpxchg_entry(kL1, 7, 0, entry(kData, kRW), &actual), 0);
  uint64_t old = slot(7);
  ASSERT_EQ(types_.cmpxchg_entry(kL1, 7, old, entry(kData, kRO), &actual), 0);
  EXPECT_EQ(actual, old);
  EXPECT_EQ(types_.info(kData).type_count, 0u);
  EXPECT_EQ(types_.info(kData).mappings, 1u);
  EXPECT_EQ(types_.check_invariants(), "");
}

TEST_F(RoPageFaultCmpxchgEntry, OnAMismatchWritesNothingAndTakesNoReference) {
  uint64_t actual = 0;
  ASSERT_EQ(types_.cmpxchg_entry(kL1, 7, 0, entry(kData, kRO), &actual), 0);
  uint64_t held = slot(7);
  ASSERT_EQ(types_.cmpxchg_entry(kL1, 7, 0, entry(kOther, kRW), &actual), 0);
  EXPECT_EQ(actual, held);
  EXPECT_EQ(slot(7), held);
  EXPECT_EQ(types_.info(kOther).type_count, 0u);
  EXPECT_EQ(types_.info(kOther).mappings, 0u);
  EXPECT_EQ(types_.check_invariants(), "");
}

TEST_F(RoPageFaultCmpxchgEntry, RefusesWhatUpdateEntryRefuses) {
  uint64_t actual = 0;
  // Xen's get_page_from_l1e: -EBUSY for a frame of the wrong type, -EPERM
  // for one that is no memory, -EINVAL for flags a domU may not use.
  const std::pair<uint64_t, long> refused[] = {
      {entry(kL1, kRW), xen::error(XEN_EBUSY)},                 // a page table, writable
      {entry(kBaseMfn + kFrames, kRO), xen::error(XEN_EPERM)},  // outside RAM
      {entry(kData, kRO | pte::kPcd), kEinval},                 // caching attributes
      {entry(kData, kRO | pte::kPwt), kEinval},                 //
      {entry(kData, kRO | pte::kPse), kEinval},                 // PAT
  };
  for (auto [desired, error] : refused) {
    EXPECT_EQ(types_.cmpxchg_entry(kL1, 7, 0, desired, &actual, mm::PageType::kL1), error)
        << std::hex << desired;
    EXPECT_EQ(slot(7), 0u);
  }
  // The L1 may map itself read-only, and shared_info writable.
  EXPECT_EQ(types_.cmpxchg_entry(kL1, 7, 0, entry(kL1, kRO), &actual), 0);
  EXPECT_EQ(types_.cmpxchg_entry(kL1, 8, 0, entry(kSharedInfoMfn, kRW), &actual), 0);
  EXPECT_EQ(types_.check_invariants(), "");
}

TEST_F(RoPageFaultCmpxchgEntry, WithARequiredTypeRefusesEveryOtherFrame) {
  uint64_t actual = 0;
  EXPECT_EQ(types_.cmpxchg_entry(kData, 0, 0, 5, &actual, mm::PageType::kL1), kEinval);
  ASSERT_EQ(types_.pin(kOther, 2), 0);
  EXPECT_EQ(types_.cmpxchg_entry(kOther, 0, 0, 0, &actual, mm::PageType::kL1), kEinval);
  EXPECT_EQ(ram_.load_entry(kData, 0), 0u);
}

TEST_F(RoPageFaultCmpxchgEntry, AnOrdinaryFrameIsPlainMemory) {
  uint64_t actual = 0;
  ASSERT_EQ(types_.cmpxchg_entry(kData, 3, 0, 0x1234, &actual), 0);
  EXPECT_EQ(actual, 0u);
  EXPECT_EQ(ram_.load_entry(kData, 3), 0x1234u);
  ASSERT_EQ(types_.cmpxchg_entry(kData, 3, 0, 0x5678, &actual), 0);
  EXPECT_EQ(actual, 0x1234u);
  EXPECT_EQ(ram_.load_entry(kData, 3), 0x1234u);
}

}  // namespace
}  // namespace xpv
