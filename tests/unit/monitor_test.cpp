#include "monitor/monitor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "base/error.hpp"
#include "base/x86.hpp"
#include "kvm/memory_region.hpp"
#include "monitor/hypervisor_frames.hpp"
#include "monitor/layout.hpp"
#include "monitor/monitor_abi.h"
#include "xen/abi.hpp"

extern "C" const uint8_t xpv_monitor_text[];

namespace xpv::monitor {
namespace {

namespace pte = x86::pte;

// --- classify_exit / classify_trampoline ------------------------------------

void expect_entry(Entry entry, EntryKind kind, unsigned vector = 0) {
  EXPECT_EQ(entry.kind, kind);
  if (kind == EntryKind::kException) {
    EXPECT_EQ(entry.vector, vector);
  }
}

TEST(MonitorClassify, NamesTheVectorOfEveryExceptionStub) {
  for (unsigned v = 0; v < 256; ++v) {
    // KVM reports the rip after the 2-byte `out %al, $v`.
    uint64_t rip = kTextVa + v * XPV_STUB_VECTOR_STRIDE + XPV_STUB_OUT_LENGTH;
    SCOPED_TRACE(v);
    expect_entry(Monitor::classify_exit(rip), EntryKind::kException, v);
  }
}

TEST(MonitorClassify, NamesEachSyscallTrampolineFromTheRipAfterIt) {
  expect_entry(Monitor::classify_exit(kTextVa + XPV_STUB_SYSCALL64 + XPV_STUB_OUT_LENGTH),
               EntryKind::kSyscall64);
  expect_entry(Monitor::classify_exit(kTextVa + XPV_STUB_SYSCALL32 + XPV_STUB_OUT_LENGTH),
               EntryKind::kSyscall32);
  expect_entry(Monitor::classify_exit(kTextVa + XPV_STUB_SYSENTER + XPV_STUB_OUT_LENGTH),
               EntryKind::kSysenter);
}

TEST(MonitorClassify, CallsAnyOtherExitRipUnknown) {
  for (uint64_t rip : {
           uint64_t{0},
           uint64_t{1},
           UINT64_MAX,
           kTextVa,      // before the first stub ends
           kTextVa - 2,  // below the text
           kTextVa + 3,  // mid-instruction
           kTextVa + XPV_STUB_RETURN_TO_GUEST + 2,
           kTextVa + XPV_STUB_SYSCALL64,  // the trampoline's own address
           kTextVa + XPV_STUB_SYSCALL64 + 1,
           kTextVa + XPV_STUB_SYSCALL32 + 4,
           kTextVa + XPV_TEXT_SIZE,
           kIdtVa + 2,
       }) {
    EXPECT_EQ(Monitor::classify_exit(rip).kind, EntryKind::kUnknown) << std::hex << rip;
  }
}

// #PF has a stub of its own that brings CR2 in rax (entry.S).
TEST(MonitorClassify, NamesThePageFaultStubWithCr2InRax) {
  Entry entry = Monitor::classify_exit(kTextVa + XPV_STUB_PAGE_FAULT_OUT + XPV_STUB_OUT_LENGTH);
  expect_entry(entry, EntryKind::kException, x86::vector::kPageFault);
  EXPECT_TRUE(entry.cr2_in_rax);
  EXPECT_FALSE(Monitor::classify_exit(kTextVa + 14 * XPV_STUB_VECTOR_STRIDE + 2).cr2_in_rax);
  const auto* text = reinterpret_cast<const uint8_t*>(xpv_monitor_text);
  EXPECT_EQ(text[XPV_STUB_PAGE_FAULT_OUT], 0xe6) << "out %al, $imm8";
  EXPECT_EQ(text[XPV_STUB_PAGE_FAULT_OUT + 1], 14);
}

TEST(MonitorClassify, NamesTrampolinesByTheirStartAddress) {
  expect_entry(Monitor::classify_trampoline(kTextVa + XPV_STUB_SYSCALL64), EntryKind::kSyscall64);
  expect_entry(Monitor::classify_trampoline(kTextVa + XPV_STUB_SYSCALL32), EntryKind::kSyscall32);
  expect_entry(Monitor::classify_trampoline(kTextVa + XPV_STUB_SYSENTER), EntryKind::kSysenter);
}

TEST(MonitorClassify, CallsAnyOtherTrampolineRipUnknown) {
  for (uint64_t rip : {
           uint64_t{0},
           UINT64_MAX,
           kTextVa,
           kTextVa + 2 * 13,  // the #GP stub is no trampoline
           kTextVa + XPV_STUB_SYSCALL64 + XPV_STUB_OUT_LENGTH,
           kTextVa + XPV_STUB_SYSCALL64 - 1,
           kTextVa + XPV_STUB_SYSENTER + 1,
           kTextVa - XPV_STUB_SYSCALL64,
       }) {
    EXPECT_EQ(Monitor::classify_trampoline(rip).kind, EntryKind::kUnknown) << std::hex << rip;
  }
}

TEST(MonitorClassify, ReturnsToGuestThroughTheStubAtItsFixedOffset) {
  EXPECT_EQ(Monitor::return_to_guest_va(), kTextVa + XPV_STUB_RETURN_TO_GUEST);
}

// --- A monitor built in host memory -----------------------------------------

constexpr unsigned kVcpus = 2;
constexpr uint64_t kM2pEntries = 1000;  // two pages

struct Leaf {
  uint64_t entry;       // the L1 entry
  uint64_t tables_and;  // the L4..L2 entries' flags ANDed: what a walk grants
  uint64_t mfn() const { return (entry & pte::kAddressMask) >> 12; }
};

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override { monitor_.install_hole_entries(l4_); }

  // Walks the monitor's tables from the guest L4 entries, as the CPU would.
  std::optional<Leaf> walk(uint64_t va) const {
    uint64_t entry = l4_[x86::l4_index(va)];
    uint64_t tables_and = entry;
    for (unsigned level = 3; level >= 1; --level) {
      if ((entry & pte::kPresent) == 0) return std::nullopt;
      auto* table = reinterpret_cast<const uint64_t*>(
          frames_.host_address((entry & pte::kAddressMask) >> 12));
      if (table == nullptr) {
        ADD_FAILURE() << "table outside the hypervisor frames at level " << level;
        return std::nullopt;
      }
      entry = table[x86::table_index(va, level)];
      if (level > 1) tables_and &= entry;
    }
    if ((entry & pte::kPresent) == 0) return std::nullopt;
    return Leaf{entry, tables_and};
  }

  // Host view of the frame that `va` maps.
  const uint8_t* host(uint64_t va) const {
    auto leaf = walk(va);
    if (!leaf) return nullptr;
    return frames_.host_address(leaf->mfn()) + (va & 4095);
  }

  void expect_supervisor_only(uint64_t va, bool writable) const {
    SCOPED_TRACE(::testing::Message() << std::hex << "va " << va);
    auto leaf = walk(va);
    ASSERT_TRUE(leaf.has_value());
    EXPECT_EQ(leaf->entry & pte::kUser, 0u);
    EXPECT_EQ((leaf->entry & pte::kWritable) != 0, writable);
  }

  kvm::MemoryRegion region_{"monitor-test", 8ULL << 20};
  HypervisorFrames frames_{region_, kHypervisorBaseMfn};
  Monitor monitor_{frames_, kVcpus, kM2pEntries};
  std::array<uint64_t, 512> l4_{};
};

// All of slots 256-271 are xpv's: what a guest left there is replaced (the
// unused ones emptied), and nothing outside the hole is touched.
TEST_F(MonitorTest, OwnsTheWholeHoleAndNothingElse) {
  std::array<uint64_t, 512> l4;
  for (unsigned i = 0; i < 512; ++i)
    l4[i] = 0x0123456789abc000ULL + i;
  monitor_.install_hole_entries(l4);
  for (unsigned i = 0; i < 512; ++i) {
    if (i == kMonitorSlot || i == kM2pSlot || i == kDirectMapSlot) continue;
    bool in_hole = i >= kFirstHoleSlot && i <= kLastHoleSlot;
    EXPECT_EQ(l4[i], in_hole ? 0 : 0x0123456789abc000ULL + i) << "slot " << i;
  }
  EXPECT_EQ(l4[kMonitorSlot], l4_[kMonitorSlot]);
  EXPECT_EQ(l4[kM2pSlot], l4_[kM2pSlot]);
}

// The direct map that the touch stub stores through: every machine frame of
// guest RAM and of the hypervisor at direct_map_va(its address), in 2 MiB
// pages the guest can never reach (supervisor-only at the L4 entry already).
TEST(MonitorDirectMap, MapsRamAndHypervisorFramesSupervisorOnlyAndWritable) {
  kvm::MemoryRegion region{"monitor-test", 8ULL << 20};
  HypervisorFrames frames{region, kHypervisorBaseMfn};
  constexpr uint64_t kRamFrames = 1024;  // 4 MiB from kRamBaseMfn
  Monitor monitor{frames, 1, kRamBaseMfn + kRamFrames};
  std::array<uint64_t, 512> l4{};
  monitor.install_hole_entries(l4);
  uint64_t l4e = l4[kDirectMapSlot];
  ASSERT_NE(l4e & pte::kPresent, 0u);
  EXPECT_EQ(l4e & pte::kUser, 0u);
  auto large_page_of = [&](uint64_t machine_address) -> uint64_t {
    uint64_t va = direct_map_va(machine_address);
    EXPECT_EQ(x86::l4_index(va), kDirectMapSlot);
    auto* l3 =
        reinterpret_cast<const uint64_t*>(frames.host_address((l4e & pte::kAddressMask) >> 12));
    uint64_t l3e = l3[x86::table_index(va, 3)];
    if ((l3e & pte::kPresent) == 0) return 0;
    auto* l2 =
        reinterpret_cast<const uint64_t*>(frames.host_address((l3e & pte::kAddressMask) >> 12));
    return l2[x86::table_index(va, 2)];
  };
  for (uint64_t pa : {kRamBaseMfn << 12, ((kRamBaseMfn + kRamFrames) << 12) - 8,
                      kHypervisorBaseMfn << 12, (frames.end_mfn() << 12) - 8}) {
    SCOPED_TRACE(::testing::Message() << std::hex << "machine address " << pa);
    uint64_t e = large_page_of(pa);
    ASSERT_NE(e & pte::kPresent, 0u);
    EXPECT_NE(e & pte::kPse, 0u);
    EXPECT_NE(e & pte::kWritable, 0u);
    EXPECT_NE(e & pte::kNx, 0u);
    EXPECT_EQ(e & pte::kUser, 0u);
    EXPECT_EQ(e & pte::kAddressMask & ~((2ULL << 20) - 1), pa & ~((2ULL << 20) - 1));
  }
  EXPECT_EQ(large_page_of(64ULL << 30) & pte::kPresent, 0u);  // between RAM and xpv's frames
}

TEST(MonitorClassify, ReturnsThroughTheStubsAtTheirFixedOffsets) {
  EXPECT_EQ(Monitor::touch_and_return_va(), kTextVa + XPV_STUB_TOUCH_AND_RETURN);
  EXPECT_EQ(Monitor::load_root_and_return_va(false), kTextVa + XPV_STUB_LOAD_ROOT_AND_RETURN);
  EXPECT_EQ(Monitor::load_root_and_return_va(true), kTextVa + XPV_STUB_LOAD_ROOT_TOUCH_AND_RETURN);
  EXPECT_EQ(Monitor::load_root_and_return_va(false, true),
            kTextVa + XPV_STUB_SWAPGS_LOAD_ROOT_AND_RETURN);
  EXPECT_EQ(Monitor::load_root_and_return_va(true, true),
            kTextVa + XPV_STUB_SWAPGS_LOAD_ROOT_TOUCH_AND_RETURN);
  EXPECT_EQ(Monitor::touch_and_exit_va(), kTextVa + XPV_STUB_TOUCH_AND_EXIT);
  // The touch loop is four instructions; its exit must come right after
  // it (entry.S pads with nops, and refuses to assemble if it is longer).
  const auto* text = reinterpret_cast<const uint8_t*>(xpv_monitor_text);
  EXPECT_EQ(text[XPV_STUB_TOUCH_AND_EXIT_OUT], 0xe6) << "out %al, $imm8";
  EXPECT_EQ(Monitor::touch_and_exit_done_rip(), kTextVa + XPV_STUB_TOUCH_AND_EXIT_OUT + 2);
  EXPECT_EQ(Monitor::classify_exit(Monitor::touch_and_exit_done_rip()).kind, EntryKind::kUnknown);
}

TEST_F(MonitorTest, HoleEntriesArePresentUserWalkableAndPointAtHypervisorFrames) {
  for (unsigned slot : {kMonitorSlot, kM2pSlot}) {
    uint64_t e = l4_[slot];
    EXPECT_NE(e & pte::kPresent, 0u) << "slot " << slot;
    EXPECT_NE(e & pte::kUser, 0u) << "slot " << slot;
    EXPECT_EQ(e & pte::kPse, 0u) << "slot " << slot;
    EXPECT_TRUE(frames_.contains((e & pte::kAddressMask) >> 12)) << "slot " << slot;
  }
  EXPECT_EQ(kMonitorSlot, 257u);
  EXPECT_EQ(kM2pSlot, 258u);
}

TEST_F(MonitorTest, MapsTheStubPageSupervisorOnlyReadOnlyExecutable) {
  auto leaf = walk(kTextVa);
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(leaf->entry & (pte::kUser | pte::kWritable | pte::kNx), 0u);
}

TEST_F(MonitorTest, MapsTheTrampolinePageUserReadOnlyExecutable) {
  auto leaf = walk(kTextVa + XPV_TRAMPOLINE_PAGE);
  ASSERT_TRUE(leaf.has_value());
  EXPECT_NE(leaf->entry & pte::kUser, 0u);
  EXPECT_NE(leaf->tables_and & pte::kUser, 0u);  // reachable at CPL3 (PVM hosts)
  EXPECT_EQ(leaf->entry & pte::kWritable, 0u);
  EXPECT_EQ(leaf->entry & pte::kNx, 0u);
}

TEST_F(MonitorTest, MapsTheIdtSupervisorOnlyReadOnly) {
  expect_supervisor_only(kIdtVa, false);
  EXPECT_NE(walk(kIdtVa)->entry & pte::kNx, 0u);
}

TEST_F(MonitorTest, MapsEveryVcpuAreaSupervisorOnly) {
  for (unsigned v = 0; v < kVcpus; ++v) {
    SCOPED_TRACE(v);
    uint64_t base = vcpu_area_va(v);
    for (unsigned p = 0; p < kGuestGdtPages; ++p)
      expect_supervisor_only(base + kGdtOffset + p * 4096ULL, false);
    expect_supervisor_only(base + kGdtOffset + kGuestGdtPages * 4096ULL, true);  // reserved GDT
    expect_supervisor_only(base + kTssOffset, true);
    for (unsigned p = 0; p < kStackPages; ++p)
      expect_supervisor_only(base + kStackOffset + p * 4096ULL, true);
    for (uint64_t va : {base + kTssOffset, base + kStackOffset})
      EXPECT_NE(walk(va)->entry & pte::kNx, 0u);
  }
  EXPECT_FALSE(walk(vcpu_area_va(kVcpus) + kStackOffset).has_value());
}

// The LDT window reads as null descriptors until SET_LDT maps guest frames
// there, supervisor-only (the CPU reads it; the guest never maps it), and
// back to null when the LDT goes.
TEST_F(MonitorTest, LdtWindowMapsGuestFramesForTheCpuOnly) {
  constexpr uint64_t kGuestMfn = kRamBaseMfn + 42;
  uint64_t page = Monitor::ldt_va(1) + 2 * 4096ULL;
  EXPECT_EQ(Monitor::ldt_va(1), vcpu_area_va(1) + kLdtOffset);
  expect_supervisor_only(page, false);
  const uint8_t* zeros = host(page);
  ASSERT_NE(zeros, nullptr);
  EXPECT_TRUE(std::all_of(zeros, zeros + 4096, [](uint8_t b) { return b == 0; }));

  monitor_.map_ldt_frame(1, 2, kGuestMfn);
  expect_supervisor_only(page, true);  // the CPU sets accessed bits
  EXPECT_EQ(walk(page)->mfn(), kGuestMfn);
  EXPECT_NE(walk(page)->entry & pte::kNx, 0u);
  EXPECT_NE(walk(Monitor::ldt_va(0) + 2 * 4096ULL)->mfn(), kGuestMfn);  // one vCPU's only

  monitor_.map_ldt_frame(1, 2, 0);
  expect_supervisor_only(page, false);
  EXPECT_NE(walk(page)->mfn(), kGuestMfn);
  EXPECT_THROW(monitor_.map_ldt_frame(1, kLdtPages, kGuestMfn), Error);
}

TEST_F(MonitorTest, MapsEveryM2pPageUserReadOnlyNoExecute) {
  for (uint64_t offset = 0; offset < kM2pEntries * 8; offset += 4096) {
    auto leaf = walk(kM2pVa + offset);
    ASSERT_TRUE(leaf.has_value()) << "offset " << offset;
    EXPECT_NE(leaf->entry & pte::kUser, 0u);
    EXPECT_NE(leaf->tables_and & pte::kUser, 0u);
    EXPECT_EQ(leaf->entry & pte::kWritable, 0u);
    EXPECT_NE(leaf->entry & pte::kNx, 0u);
  }
  EXPECT_FALSE(walk(kM2pVa + 2 * 4096).has_value());
}

TEST_F(MonitorTest, M2pSpansTheRequestedEntriesAllInvalid) {
  auto m2p = monitor_.m2p();
  ASSERT_EQ(m2p.size(), kM2pEntries);
  EXPECT_TRUE(std::all_of(m2p.begin(), m2p.end(), [](uint64_t e) { return e == ~0ULL; }));
}

TEST_F(MonitorTest, GuestsSeeTheM2pTheHostWrites) {
  auto m2p = monitor_.m2p();
  m2p[3] = 0x1234;
  m2p[700] = 0x5678;  // on the second page
  uint64_t seen = 0;
  std::memcpy(&seen, host(kM2pVa + 3 * 8), 8);
  EXPECT_EQ(seen, 0x1234u);
  std::memcpy(&seen, host(kM2pVa + 700 * 8), 8);
  EXPECT_EQ(seen, 0x5678u);
}

TEST_F(MonitorTest, PointsEveryIdtGateAtItsStub) {
  const uint8_t* idt = host(kIdtVa);
  ASSERT_NE(idt, nullptr);
  for (unsigned v = 0; v < 256; ++v) {
    SCOPED_TRACE(v);
    uint64_t low, high;
    std::memcpy(&low, idt + 16 * v, 8);
    std::memcpy(&high, idt + 16 * v + 8, 8);
    uint64_t target = (low & 0xffff) | ((low >> 48) & 0xffff) << 16 | (high & 0xffffffff) << 32;
    uint64_t stub = v == x86::vector::kPageFault ? XPV_STUB_PAGE_FAULT : v * XPV_STUB_VECTOR_STRIDE;
    EXPECT_EQ(target, kTextVa + stub);
    EXPECT_EQ((low >> 16) & 0xffff, kMonitorCs);
    EXPECT_EQ((low >> 32) & 7, 0u);      // no IST
    EXPECT_EQ((low >> 40) & 0xf, 0xeu);  // 64-bit interrupt gate
    EXPECT_EQ((low >> 47) & 1, 1u);      // present
    unsigned dpl = (v == x86::vector::kBreakpoint || v == x86::vector::kOverflow) ? 3 : 0;
    EXPECT_EQ((low >> 45) & 3, dpl);
  }
}

TEST_F(MonitorTest, EachVectorStubIsAnOutOfItsVector) {
  const uint8_t* text = host(kTextVa);
  ASSERT_NE(text, nullptr);
  for (unsigned v = 0; v < 256; ++v) {
    EXPECT_EQ(text[v * XPV_STUB_VECTOR_STRIDE], 0xe6) << v;  // out %al, $imm8
    EXPECT_EQ(text[v * XPV_STUB_VECTOR_STRIDE + 1], v) << v;
  }
  EXPECT_EQ(text[XPV_STUB_RETURN_TO_GUEST], 0x48);  // iretq
  EXPECT_EQ(text[XPV_STUB_RETURN_TO_GUEST + 1], 0xcf);
}

TEST_F(MonitorTest, EachTrampolineIsAnOutOfItsPort) {
  const uint8_t* page = host(kTextVa + XPV_TRAMPOLINE_PAGE);
  ASSERT_NE(page, nullptr);
  const std::pair<unsigned, unsigned> trampolines[] = {
      {XPV_STUB_SYSCALL64, XPV_PORT_SYSCALL64},
      {XPV_STUB_SYSCALL32, XPV_PORT_SYSCALL32},
      {XPV_STUB_SYSENTER, XPV_PORT_SYSENTER},
  };
  for (auto [offset, port] : trampolines) {
    EXPECT_EQ(page[offset - XPV_TRAMPOLINE_PAGE], 0xe7) << offset;  // out %eax, $imm8
    EXPECT_EQ(page[offset - XPV_TRAMPOLINE_PAGE + 1], port) << offset;
  }
}

// Descriptor fields (SDM vol. 3 §3.4.5).
struct Descriptor {
  uint64_t raw;
  unsigned type() const { return (raw >> 40) & 0xf; }
  bool code() const { return (type() & 8) != 0; }
  bool system() const { return ((raw >> 44) & 1) == 0; }
  unsigned dpl() const { return (raw >> 45) & 3; }
  bool present() const { return ((raw >> 47) & 1) != 0; }
  bool long_mode() const { return ((raw >> 53) & 1) != 0; }
  bool default_32() const { return ((raw >> 54) & 1) != 0; }
};

class MonitorGdtTest : public MonitorTest {
 protected:
  Descriptor reserved(unsigned vcpu, uint16_t selector) const {
    const uint8_t* page = host(vcpu_area_va(vcpu) + kGdtOffset + kGuestGdtPages * 4096ULL);
    uint64_t raw = 0;
    if (page != nullptr) std::memcpy(&raw, page + 8 * reserved_gdt_index(selector), 8);
    return {raw};
  }
};

TEST_F(MonitorGdtTest, HoldsXensRing3Code64Selector) {
  EXPECT_EQ(FLAT_RING3_CS64, 0xe033);
  for (unsigned v = 0; v < kVcpus; ++v) {
    Descriptor d = reserved(v, FLAT_RING3_CS64);
    EXPECT_TRUE(d.present() && !d.system() && d.code()) << std::hex << d.raw;
    EXPECT_EQ(d.dpl(), 3u);
    EXPECT_TRUE(d.long_mode());
    EXPECT_FALSE(d.default_32());  // must be clear when L is set
  }
}

TEST_F(MonitorGdtTest, HoldsXensRing3DataSelector) {
  EXPECT_EQ(FLAT_RING3_SS64, 0xe02b);
  Descriptor d = reserved(0, FLAT_RING3_SS64);
  EXPECT_TRUE(d.present() && !d.system() && !d.code()) << std::hex << d.raw;
  EXPECT_NE(d.type() & 2, 0u);  // writable
  EXPECT_EQ(d.dpl(), 3u);
}

TEST_F(MonitorGdtTest, HoldsXensRing3Code32Selector) {
  EXPECT_EQ(FLAT_RING3_CS32, 0xe023);
  Descriptor d = reserved(0, FLAT_RING3_CS32);
  EXPECT_TRUE(d.present() && !d.system() && d.code()) << std::hex << d.raw;
  EXPECT_EQ(d.dpl(), 3u);
  EXPECT_FALSE(d.long_mode());
  EXPECT_TRUE(d.default_32());
}

TEST_F(MonitorGdtTest, HoldsTheMonitorsRing0CodeAndItsTss) {
  for (unsigned v = 0; v < kVcpus; ++v) {
    Descriptor cs = reserved(v, kMonitorCs);
    EXPECT_TRUE(cs.present() && cs.code() && cs.long_mode());
    EXPECT_EQ(cs.dpl(), 0u);

    Descriptor tss = reserved(v, kTssSelector);
    Descriptor tss_high = reserved(v, static_cast<uint16_t>(kTssSelector + 8));
    EXPECT_TRUE(tss.present() && tss.system());
    EXPECT_EQ(tss.type(), 9u);  // available 64-bit TSS
    uint64_t base = ((tss.raw >> 16) & 0xffffff) | ((tss.raw >> 56) & 0xff) << 24 |
                    (tss_high.raw & 0xffffffff) << 32;
    EXPECT_EQ(base, vcpu_area_va(v) + kTssOffset);
  }
}

TEST_F(MonitorGdtTest, GuestGdtPagesReadAsNullDescriptors) {
  const uint8_t* page = host(vcpu_area_va(1) + kGdtOffset + 3 * 4096);
  ASSERT_NE(page, nullptr);
  EXPECT_TRUE(std::all_of(page, page + 4096, [](uint8_t b) { return b == 0; }));
}

TEST_F(MonitorTest, TssPointsRsp0AtTheVcpusStackTop) {
  for (unsigned v = 0; v < kVcpus; ++v) {
    const uint8_t* tss = host(vcpu_area_va(v) + kTssOffset);
    ASSERT_NE(tss, nullptr);
    uint64_t rsp0 = 0;
    std::memcpy(&rsp0, tss + 4, 8);
    EXPECT_EQ(rsp0, monitor_.stack_top_va(v));
    EXPECT_EQ(monitor_.stack_top_va(v), vcpu_area_va(v) + kStackTopOffset);
  }
}

// --- stack_slice --------------------------------------------------------------

TEST_F(MonitorTest, StackSliceAliasesTheMappedStack) {
  uint64_t top = monitor_.stack_top_va(1);
  auto slice = monitor_.stack_slice(1, top - 5 * 8, 5);
  ASSERT_EQ(slice.size(), 5u);
  slice[4] = 0xfeedface;
  uint64_t seen = 0;
  std::memcpy(&seen, host(top - 8), 8);
  EXPECT_EQ(seen, 0xfeedfaceu);
}

TEST_F(MonitorTest, StackSliceCoversTheWholeStackAcrossPages) {
  uint64_t bottom = vcpu_area_va(0) + kStackOffset;
  auto slice = monitor_.stack_slice(0, bottom, kStackPages * 512);
  ASSERT_EQ(slice.size(), kStackPages * 512u);
  slice[512] = 77;  // first qword of the second page
  uint64_t seen = 0;
  std::memcpy(&seen, host(bottom + 4096), 8);
  EXPECT_EQ(seen, 77u);
}

TEST_F(MonitorTest, StackSliceRefusesRangesOutsideTheVcpusStack) {
  uint64_t bottom = vcpu_area_va(0) + kStackOffset;
  uint64_t top = monitor_.stack_top_va(0);
  EXPECT_TRUE(monitor_.stack_slice(0, bottom - 8, 1).empty());                  // below
  EXPECT_TRUE(monitor_.stack_slice(0, bottom, kStackPages * 512 + 1).empty());  // past the top
  EXPECT_TRUE(monitor_.stack_slice(0, top - 8, 2).empty());
  EXPECT_TRUE(monitor_.stack_slice(0, top, 1).empty());
  EXPECT_TRUE(monitor_.stack_slice(0, top - 12, 1).empty());  // misaligned
  EXPECT_TRUE(monitor_.stack_slice(kVcpus, vcpu_area_va(kVcpus) + kStackOffset, 1).empty());
  EXPECT_TRUE(monitor_.stack_slice(0, top - 8, SIZE_MAX).empty());
}

// Any address above the stack top would make (top - va) wrap and yield a
// span past the vCPU's stack frames into other host memory.
TEST_F(MonitorTest, StackSliceRefusesAddressesAboveTheStackTop) {
  uint64_t top = monitor_.stack_top_va(0);
  EXPECT_TRUE(monitor_.stack_slice(0, top + 8, 1).empty());
  EXPECT_TRUE(monitor_.stack_slice(0, top + 0x1000, 4).empty());
  // vCPU 0's "stack" at vCPU 1's stack address.
  EXPECT_TRUE(monitor_.stack_slice(0, monitor_.stack_top_va(1) - 8, 1).empty());
}

// --- Construction limits ------------------------------------------------------

TEST(MonitorLimits, RefusesZeroVcpus) {
  kvm::MemoryRegion region("monitor-test", 4ULL << 20);
  HypervisorFrames frames(region, kHypervisorBaseMfn);
  EXPECT_THROW(Monitor(frames, 0, 16), Error);
}

TEST(MonitorLimits, RefusesMoreThan32Vcpus) {
  kvm::MemoryRegion region("monitor-test", 4ULL << 20);
  HypervisorFrames frames(region, kHypervisorBaseMfn);
  EXPECT_EQ(kMaxVcpus, 32u);
  EXPECT_THROW(Monitor(frames, kMaxVcpus + 1, 16), Error);
}

TEST(MonitorLimits, BuildsFor32VcpusEachWithItsOwnStack) {
  kvm::MemoryRegion region("monitor-test", 4ULL << 20);
  HypervisorFrames frames(region, kHypervisorBaseMfn);
  Monitor monitor(frames, kMaxVcpus, 16);
  auto first = monitor.stack_slice(0, monitor.stack_top_va(0) - 8, 1);
  auto last = monitor.stack_slice(kMaxVcpus - 1, monitor.stack_top_va(kMaxVcpus - 1) - 8, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_NE(first.data(), last.data());
}

TEST(MonitorLimits, ThrowsWhenTheHypervisorFramesRunOut) {
  kvm::MemoryRegion region("monitor-test", 8 * 4096);
  HypervisorFrames frames(region, kHypervisorBaseMfn);
  EXPECT_THROW(Monitor(frames, 1, 16), Error);
}

TEST(MonitorLimits, AnEmptyM2pMapsNothing) {
  kvm::MemoryRegion region("monitor-test", 1ULL << 20);
  HypervisorFrames frames(region, kHypervisorBaseMfn);
  Monitor monitor(frames, 1, 0);
  EXPECT_TRUE(monitor.m2p().empty());
  std::array<uint64_t, 512> l4{};
  monitor.install_hole_entries(l4);
  auto* l3 = reinterpret_cast<const uint64_t*>(
      frames.host_address((l4[kM2pSlot] & pte::kAddressMask) >> 12));
  ASSERT_NE(l3, nullptr);
  EXPECT_TRUE(std::all_of(l3, l3 + 512, [](uint64_t e) { return e == 0; }));
}

}  // namespace
}  // namespace xpv::monitor
