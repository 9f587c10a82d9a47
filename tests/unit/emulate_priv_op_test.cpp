// The decisions behind privileged-instruction emulation, without KVM: the
// MSR policy, the control-register views and the port-I/O model.
#include "hv/emulate_priv_op.hpp"

#include <gtest/gtest.h>

#include <map>

#include "base/x86.hpp"
#include "hv/port_io.hpp"

namespace xpv::hv {
namespace {

using namespace x86;

constexpr CpuidResult kIntelLeaf0{0x16, 0x756e6547, 0x6c65746e, 0x49656e69};  // "GenuineIntel"
constexpr CpuidResult kAmdLeaf0{0x10, 0x68747541, 0x444d4163, 0x69746e65};    // "AuthenticAMD"
constexpr CpuidResult kHygonLeaf0{0xd, 0x6f677948, 0x656e6975, 0x6e65476e};   // "HygonGenuine"
constexpr CpuidResult kFamily6Leaf1{0x000906ea, 0, 0, 0};
constexpr CpuidResult kFamily19hLeaf1{0x00a20f10, 0, 0, 0};  // base 0xf + extended 0xa

constexpr uint32_t kTsc = 0x10, kApicBase = 0x1b, kUcodeRev = 0x8b, kMiscEnable = 0x1a0,
                   kPat = 0x277, kPerfCapabilities = 0x345, kP6PerfCtr0 = 0xc1,
                   kK8Hwcr = 0xc0010015, kK7EvntSel0 = 0xc0010000, kDeCfg = 0xc0011029,
                   kNbCfg = 0xc001001f;

// A vCPU's MSR context with the hardware values in `hardware`.
struct FakeVcpu {
  std::map<uint32_t, uint64_t> hardware{{msr::kEfer, 0xd01}, {kTsc, 123456789}};
  MsrContext context(CpuVendor vendor, unsigned vcpu_id = 0) {
    MsrContext c;
    c.cpu = {vendor, vendor == CpuVendor::kAmd ? 0x19u : 6u};
    c.vcpu_id = vcpu_id;
    c.fs_base = 0x1000;
    c.kernel_gs_base = 0xffffffff80002000;
    c.user_gs_base = 0x3000;
    c.hardware_msr = [this](uint32_t index) -> std::optional<uint64_t> {
      auto it = hardware.find(index);
      if (it == hardware.end()) return std::nullopt;
      return it->second;
    };
    return c;
  }
};

// --- CPU identity and MSR reads -------------------------------------------

TEST(EmulatePrivOp, IdentifiesTheVendorFromCpuidLeafZero) {
  EXPECT_EQ(identify_cpu(kIntelLeaf0, kFamily6Leaf1).vendor, CpuVendor::kIntel);
  EXPECT_EQ(identify_cpu(kAmdLeaf0, kFamily19hLeaf1).vendor, CpuVendor::kAmd);
  EXPECT_EQ(identify_cpu(kHygonLeaf0, kFamily19hLeaf1).vendor, CpuVendor::kAmd);
  EXPECT_EQ(identify_cpu(CpuidResult{}, kFamily6Leaf1).vendor, CpuVendor::kOther);
}

TEST(EmulatePrivOp, CountsTheExtendedFamilyOnlyForBaseFamily15) {
  EXPECT_EQ(identify_cpu(kIntelLeaf0, kFamily6Leaf1).family, 6u);
  EXPECT_EQ(identify_cpu(kAmdLeaf0, kFamily19hLeaf1).family, 0x19u);
  EXPECT_EQ(identify_cpu(kAmdLeaf0, CpuidResult{0x00100f00, 0, 0, 0}).family, 0x10u);
}

TEST(EmulatePrivOp, ReadsTheSegmentBasesSetSegmentBaseKeeps) {
  FakeVcpu v;
  MsrContext c = v.context(CpuVendor::kIntel);
  EXPECT_EQ(read_msr(msr::kFsBase, c), 0x1000u);
  EXPECT_EQ(read_msr(msr::kGsBase, c), 0xffffffff80002000u);
  // SHADOW_GS_BASE is what swapgs would load: the user GS base.
  EXPECT_EQ(read_msr(msr::kKernelGsBase, c), 0x3000u);
}

TEST(EmulatePrivOp, ReadsEferMaskedAsXenDoes) {
  FakeVcpu v;
  // SVME (12) and AIBRSE (21) are hidden, as are bits Xen does not know.
  v.hardware[msr::kEfer] = 0xd01 | (1ULL << 12) | (1ULL << 14) | (1ULL << 21) | (1ULL << 15);
  EXPECT_EQ(read_msr(msr::kEfer, v.context(CpuVendor::kAmd)), 0xd01u | (1ULL << 14));
}

TEST(EmulatePrivOp, AcceptsOnlyTheEferValueTheGuestReads) {
  FakeVcpu v;
  MsrContext c = v.context(CpuVendor::kIntel);
  EXPECT_EQ(classify_msr_write(msr::kEfer, 0xd01, c), MsrWrite::kIgnore);
  EXPECT_EQ(classify_msr_write(msr::kEfer, 0xd00, c), MsrWrite::kFault);
  EXPECT_EQ(classify_msr_write(msr::kEfer, 0xd01 | (1ULL << 12), c), MsrWrite::kFault);
}

TEST(EmulatePrivOp, ApicBaseIsEnabledAtTheDefaultAddressWithBspOnVcpuZero) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kApicBase, v.context(CpuVendor::kIntel, 0)), 0xfee00900u);
  EXPECT_EQ(read_msr(kApicBase, v.context(CpuVendor::kIntel, 1)), 0xfee00800u);
  EXPECT_EQ(classify_msr_write(kApicBase, 0xfee00900, v.context(CpuVendor::kIntel)),
            MsrWrite::kFault);
}

TEST(EmulatePrivOp, PatIsXensFixedValue) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kPat, v.context(CpuVendor::kAmd)), 0x0000050100070406u);
  EXPECT_EQ(classify_msr_write(kPat, 0x0007040600070406, v.context(CpuVendor::kAmd)),
            MsrWrite::kFault);
}

TEST(EmulatePrivOp, PerfCapabilitiesReadZeroOnEveryVendor) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kPerfCapabilities, v.context(CpuVendor::kIntel)), 0u);
  EXPECT_EQ(read_msr(kPerfCapabilities, v.context(CpuVendor::kAmd)), 0u);
}

TEST(EmulatePrivOp, TscReadsTheVcpusTsc) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kTsc, v.context(CpuVendor::kIntel)), 123456789u);
  EXPECT_EQ(classify_msr_write(kTsc, 0, v.context(CpuVendor::kIntel)), MsrWrite::kFault);
}

TEST(EmulatePrivOp, MiscEnableIsMaskedOnIntelAndAbsentElsewhere) {
  FakeVcpu v;
  constexpr uint64_t kFastStrings = 1, kPerfAvail = 1ULL << 7, kMonitor = 1ULL << 18;
  v.hardware[kMiscEnable] = kFastStrings | kPerfAvail | kMonitor;
  constexpr uint64_t kBtsUnavail = 1ULL << 11, kPebsUnavail = 1ULL << 12, kXtprDisable = 1ULL << 23;
  EXPECT_EQ(read_msr(kMiscEnable, v.context(CpuVendor::kIntel)),
            kFastStrings | kBtsUnavail | kPebsUnavail | kXtprDisable);
  EXPECT_EQ(read_msr(kMiscEnable, v.context(CpuVendor::kAmd)), std::nullopt);
  // Xen drops MISC_ENABLE writes on Intel, changes included.
  EXPECT_EQ(classify_msr_write(kMiscEnable, 0, v.context(CpuVendor::kIntel)), MsrWrite::kIgnore);
  EXPECT_EQ(classify_msr_write(kMiscEnable, 0, v.context(CpuVendor::kAmd)), MsrWrite::kFault);
}

TEST(EmulatePrivOp, MicrocodeRevisionTakesOnlyIntelsWriteOfZero) {
  FakeVcpu v;
  v.hardware[kUcodeRev] = 0x100000000;
  EXPECT_EQ(read_msr(kUcodeRev, v.context(CpuVendor::kIntel)), 0x100000000u);
  EXPECT_EQ(classify_msr_write(kUcodeRev, 0, v.context(CpuVendor::kIntel)), MsrWrite::kIgnore);
  EXPECT_EQ(classify_msr_write(kUcodeRev, 1, v.context(CpuVendor::kIntel)), MsrWrite::kFault);
  EXPECT_EQ(classify_msr_write(kUcodeRev, 0, v.context(CpuVendor::kAmd)), MsrWrite::kFault);
}

TEST(EmulatePrivOp, PerformanceCountersReadZeroAndDropWritesOnTheirVendorOnly) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kP6PerfCtr0, v.context(CpuVendor::kIntel)), 0u);
  EXPECT_EQ(classify_msr_write(kP6PerfCtr0, 5, v.context(CpuVendor::kIntel)), MsrWrite::kIgnore);
  EXPECT_EQ(read_msr(kP6PerfCtr0, v.context(CpuVendor::kAmd)), std::nullopt);
  EXPECT_EQ(read_msr(kK7EvntSel0, v.context(CpuVendor::kAmd)), 0u);
  EXPECT_EQ(classify_msr_write(kK7EvntSel0, 5, v.context(CpuVendor::kIntel)), MsrWrite::kFault);
}

TEST(EmulatePrivOp, AmdConfigurationMsrsReadAsXenShowsThem) {
  FakeVcpu v;
  EXPECT_EQ(read_msr(kK8Hwcr, v.context(CpuVendor::kAmd)), 0u);
  EXPECT_EQ(read_msr(kDeCfg, v.context(CpuVendor::kAmd)), 2u);  // LFENCE serialising
  EXPECT_EQ(classify_msr_write(kDeCfg, 0, v.context(CpuVendor::kAmd)), MsrWrite::kIgnore);
  EXPECT_EQ(read_msr(kK8Hwcr, v.context(CpuVendor::kIntel)), std::nullopt);
  EXPECT_EQ(read_msr(kNbCfg, v.context(CpuVendor::kIntel)), 0u);
}

TEST(EmulatePrivOp, RefusesMsrsXenDoesNotEmulate) {
  FakeVcpu v;
  MsrContext c = v.context(CpuVendor::kIntel);
  for (uint32_t index : {msr::kStar, msr::kLstar, msr::kSysenterEip, 0x48u /* SPEC_CTRL */,
                         0x40000000u, 0x12345678u}) {
    EXPECT_EQ(read_msr(index, c), std::nullopt) << std::hex << index;
    EXPECT_EQ(classify_msr_write(index, 0, c), MsrWrite::kFault) << std::hex << index;
  }
}

TEST(EmulatePrivOp, FakesRefusedReadsOnlyBeforeTheGuestHasAGpHandler) {
  EXPECT_TRUE(fakes_refused_rdmsr(msr::kLstar, false));
  EXPECT_FALSE(fakes_refused_rdmsr(msr::kLstar, true));
  EXPECT_FALSE(fakes_refused_rdmsr(0x40000000, false));  // the hypervisor's range
  EXPECT_FALSE(fakes_refused_rdmsr(0x4000ffff, false));
  EXPECT_TRUE(fakes_refused_rdmsr(0x40010000, false));
}

TEST(EmulatePrivOp, SegmentBaseWritesNeedACanonicalAddress) {
  FakeVcpu v;
  MsrContext c = v.context(CpuVendor::kIntel);
  EXPECT_EQ(classify_msr_write(msr::kFsBase, 0x7fff00000000, c), MsrWrite::kSetFsBase);
  EXPECT_EQ(classify_msr_write(msr::kGsBase, 0xffff800000000000, c), MsrWrite::kSetKernelGsBase);
  EXPECT_EQ(classify_msr_write(msr::kKernelGsBase, 0, c), MsrWrite::kSetUserGsBase);
  EXPECT_EQ(classify_msr_write(msr::kFsBase, 0x800000000000, c), MsrWrite::kFault);
  EXPECT_EQ(classify_msr_write(msr::kKernelGsBase, 0x0001000000000000, c), MsrWrite::kFault);
}

// --- Control registers ---------------------------------------------------

constexpr uint64_t kHardwareCr0 = cr0::kPe | cr0::kMp | cr0::kEt | cr0::kNe | cr0::kWp | cr0::kPg;
constexpr uint64_t kTs = 1ULL << 3;

TEST(EmulatePrivOp, Cr0ShowsTheVirtualTs) {
  EXPECT_EQ(guest_cr0(kHardwareCr0, false), kHardwareCr0);
  EXPECT_EQ(guest_cr0(kHardwareCr0, true), kHardwareCr0 | kTs);
  EXPECT_EQ(guest_cr0(kHardwareCr0 | kTs, false), kHardwareCr0);
}

TEST(EmulatePrivOp, Cr0WritesMayChangeOnlyTs) {
  EXPECT_EQ(cr0_write_ts(kHardwareCr0 | kTs, kHardwareCr0), true);
  EXPECT_EQ(cr0_write_ts(kHardwareCr0, kHardwareCr0 | kTs), false);
  EXPECT_EQ(cr0_write_ts(kHardwareCr0 & ~cr0::kWp, kHardwareCr0), std::nullopt);
  EXPECT_EQ(cr0_write_ts(kHardwareCr0 | (1ULL << 30) /* CD */, kHardwareCr0), std::nullopt);
}

constexpr uint64_t kHardwareCr4 = cr4::kPae | cr4::kOsfxsr | cr4::kOsxmmexcpt;
constexpr uint64_t kTsd = 1ULL << 2, kDe = 1ULL << 3, kPse = 1ULL << 4, kMce = 1ULL << 6,
                   kPge = 1ULL << 7, kFsgsbase = 1ULL << 16, kOsxsave = 1ULL << 18,
                   kSmep = 1ULL << 20;
constexpr CpuidResult kLeaf1TscOnly{0, 0, 0, 1U << 4};
constexpr CpuidResult kLeaf1All{0, 0, 1U << 26, (1U << 4) | (1U << 2)};
constexpr CpuidResult kLeaf7None{};
constexpr CpuidResult kLeaf7Fsgsbase{0, 1, 0, 0};

TEST(EmulatePrivOp, Cr4StartsAsTheHardwareBitsAGuestMaySee) {
  EXPECT_EQ(fixup_guest_cr4(0, kHardwareCr4 | kPge | kSmep | kMce, kLeaf1All, kLeaf7Fsgsbase),
            kHardwareCr4 | kMce);
}

TEST(EmulatePrivOp, Cr4KeepsOnlyGuestBitsItsCpuidShows) {
  uint64_t everything = ~0ULL;
  EXPECT_EQ(fixup_guest_cr4(everything, kHardwareCr4, kLeaf1TscOnly, kLeaf7None),
            kHardwareCr4 | kTsd);
  EXPECT_EQ(fixup_guest_cr4(everything, kHardwareCr4, kLeaf1All, kLeaf7Fsgsbase),
            kHardwareCr4 | kTsd | kDe | kFsgsbase | kOsxsave);
  // Linux's xen_write_cr4 strips PGE and PSE; had it not, they would go.
  EXPECT_EQ(fixup_guest_cr4(kPge | kPse | kHardwareCr4, kHardwareCr4, kLeaf1All, kLeaf7None),
            kHardwareCr4);
  // Clearing a visible bit changes nothing: it reflects Xen's settings.
  EXPECT_EQ(fixup_guest_cr4(0, kHardwareCr4, kLeaf1All, kLeaf7None), kHardwareCr4);
}

TEST(EmulatePrivOp, HardwareCr4TakesTheGuestsTsd) {
  EXPECT_EQ(hardware_cr4_for(kHardwareCr4 | kTsd, kHardwareCr4), kHardwareCr4 | kTsd);
  EXPECT_EQ(hardware_cr4_for(kHardwareCr4, kHardwareCr4 | kTsd), kHardwareCr4);
  EXPECT_EQ(hardware_cr4_for(kHardwareCr4 | kOsxsave, kHardwareCr4), kHardwareCr4);
}

// --- I/O privilege -------------------------------------------------------

TEST(PortIo, KernelCountsAsRingOneAndUserAsRingThree) {
  EXPECT_FALSE(iopl_permits(0, true, false));
  EXPECT_TRUE(iopl_permits(1, true, false));
  EXPECT_FALSE(iopl_permits(2, false, false));
  EXPECT_TRUE(iopl_permits(3, false, false));
}

TEST(PortIo, ArchitecturalIoplMakesTheKernelRingZero) {
  EXPECT_TRUE(iopl_permits(0, true, true));
  EXPECT_FALSE(iopl_permits(2, false, true));
}

TEST(PortIo, IoBitmapCoversPortsBelowItsSize) {
  EXPECT_TRUE(io_bitmap_covers(0x100, 0xff, 1));
  EXPECT_FALSE(io_bitmap_covers(0x100, 0xff, 2));
  EXPECT_FALSE(io_bitmap_covers(0, 0, 1));
  EXPECT_TRUE(io_bitmap_covers(65536, 0xfffc, 4));
}

TEST(PortIo, IoBitmapPermitsWhenEveryBitOfTheAccessIsClear) {
  // Port 0x83 (bit 3 of byte 0x10) denied, the rest allowed.
  uint16_t bits = 1U << 3;
  EXPECT_TRUE(io_bitmap_permits(bits, 0x80, 2));
  EXPECT_FALSE(io_bitmap_permits(bits, 0x80, 4));
  EXPECT_FALSE(io_bitmap_permits(bits, 0x83, 1));
  // An access running into the next byte checks its bits too.
  EXPECT_FALSE(io_bitmap_permits(1U << 9, 0x86, 4));
  EXPECT_TRUE(io_bitmap_permits(1U << 9, 0x86, 2));
}

TEST(PortIo, GuestAddressesExcludeTheHoleAndXensRange) {
  EXPECT_TRUE(guest_address_ok(0x7fffffffffff));
  EXPECT_FALSE(guest_address_ok(0x800000000000));
  EXPECT_FALSE(guest_address_ok(0xffff800000000000));
  EXPECT_FALSE(guest_address_ok(0xffff87ffffffffff));
  EXPECT_TRUE(guest_address_ok(0xffff880000000000));
  EXPECT_TRUE(guest_address_ok(0xffffffff80000000));
}

// --- Ports ---------------------------------------------------------------

TEST(PortIo, UnbackedPortsReadAllOnesAndDropWrites) {
  PortIoState s;
  EXPECT_EQ(read_port(s, 0x80, 1, 0), 0xffu);
  EXPECT_EQ(read_port(s, 0x3f8, 2, 0), 0xffffu);
  EXPECT_EQ(read_port(s, 0x64, 4, 0), 0xffffffffu);
  write_port(s, 0x80, 1, 0x12, 0);
  EXPECT_EQ(read_port(s, 0x80, 1, 0), 0xffu);
  EXPECT_EQ(read_port(s, 0x40, 1, 0), 0xffu);  // PIT channel 0: not a domU's
}

TEST(PortIo, PciConfigAddressLatchesDwordsOnly) {
  PortIoState s;
  write_port(s, 0xcf8, 4, 0x80001234, 0);
  EXPECT_EQ(read_port(s, 0xcf8, 4, 0), 0x80001234u);
  EXPECT_EQ(read_port(s, 0xcf8, 1, 0), 0xffu);
  EXPECT_EQ(read_port(s, 0xcf8, 2, 0), 0xffffu);
  write_port(s, 0xcf8, 2, 0, 0);  // not a dword: dropped
  EXPECT_EQ(read_port(s, 0xcf8, 4, 0), 0x80001234u);
  // A domU reaches no configuration space.
  EXPECT_EQ(read_port(s, 0xcfc, 4, 0), 0xffffffffu);
  EXPECT_EQ(read_port(s, 0xcfe, 2, 0), 0xffffu);
  write_port(s, 0xcfc, 4, 0, 0);
  EXPECT_EQ(s.pci_cf8, 0x80001234u);
}

TEST(PortIo, CmosIndexLatchesWithoutTheNmiBit) {
  PortIoState s;
  write_port(s, 0x70, 1, 0x8f, 0);
  EXPECT_EQ(read_port(s, 0x70, 1, 0), 0x0fu);
  EXPECT_EQ(read_port(s, 0x71, 1, 0), 0xffu);
  // A word at 0x70 is both ports: the index, then all-ones.
  EXPECT_EQ(read_port(s, 0x70, 2, 0), 0xff0fu);
}

constexpr uint64_t kMs = 1000000;

// Channel 2, lobyte/hibyte access, in `mode`, loaded with `count`.
void program_channel2(PortIoState& s, unsigned mode, uint16_t count, uint64_t now) {
  write_port(s, 0x43, 1, 0xb0 | (mode << 1), now);
  write_port(s, 0x42, 1, count & 0xff, now);
  write_port(s, 0x42, 1, count >> 8, now);
}

uint16_t read_count(PortIoState& s, uint64_t now) {
  unsigned low = read_port(s, 0x42, 1, now);
  unsigned high = read_port(s, 0x42, 1, now);
  return static_cast<uint16_t>(low | high << 8);
}

TEST(PortIo, PitChannel2CountsOnlyWhileItsGateIsHigh) {
  PortIoState s;
  program_channel2(s, 0, 50000, 0);
  EXPECT_EQ(read_count(s, 10 * kMs), 50000u);  // gate low
  write_port(s, 0x61, 1, 1, 10 * kMs);
  EXPECT_EQ(read_count(s, 20 * kMs), 50000u - 11931u);  // 10 ms at 1.193182 MHz
  write_port(s, 0x61, 1, 0, 20 * kMs);
  EXPECT_EQ(read_count(s, 30 * kMs), 50000u - 11931u);
}

TEST(PortIo, PitMode0RaisesOutAtTerminalCount) {
  PortIoState s;
  write_port(s, 0x61, 1, 1, 0);
  program_channel2(s, 0, 1193, 0);  // about 1 ms
  EXPECT_EQ(read_port(s, 0x61, 1, kMs / 2) & 0x20, 0u);
  EXPECT_EQ(read_port(s, 0x61, 1, 2 * kMs) & 0x20, 0x20u);
  EXPECT_EQ(s.pit.out(2 * kMs), true);
}

TEST(PortIo, PitLatchedCountHoldsUntilBothBytesAreRead) {
  PortIoState s;
  write_port(s, 0x61, 1, 1, 0);
  program_channel2(s, 0, 0x8000, 0);
  write_port(s, 0x43, 1, 0x80, kMs);  // latch channel 2
  unsigned low = read_port(s, 0x42, 1, 5 * kMs);
  unsigned high = read_port(s, 0x42, 1, 9 * kMs);
  EXPECT_EQ(low | high << 8, 0x8000u - 1193u);
  EXPECT_EQ(read_count(s, 10 * kMs), 0x8000u - 11931u);  // live again
}

TEST(PortIo, PitReadBackLatchesStatusThenCount) {
  PortIoState s;
  write_port(s, 0x61, 1, 1, 0);
  program_channel2(s, 3, 1000, 0);
  write_port(s, 0x43, 1, 0xc8, 0);  // read-back: count and status of channel 2
  EXPECT_EQ(read_port(s, 0x42, 1, 0), 0x80u | 0x30u | (3u << 1));  // OUT high, lo/hi, mode 3
  EXPECT_EQ(read_count(s, 0), 1000u);
}

TEST(PortIo, PitSquareWaveHalvesItsPeriod) {
  PortIoState s;
  write_port(s, 0x61, 1, 1, 0);
  program_channel2(s, 3, 11932, 0);  // 10 ms
  EXPECT_TRUE(s.pit.out(2 * kMs));
  EXPECT_FALSE(s.pit.out(7 * kMs));
  EXPECT_TRUE(s.pit.out(12 * kMs));
}

TEST(PortIo, Port61ShowsGateSpeakerAndARefreshToggle) {
  PortIoState s;
  write_port(s, 0x61, 1, 3, 0);
  EXPECT_EQ(read_port(s, 0x61, 1, 0) & 0x0f, 3u);
  EXPECT_NE(read_port(s, 0x61, 1, 0) & 0x10, read_port(s, 0x61, 1, 1ULL << 14) & 0x10);
  EXPECT_EQ(read_port(s, 0x43, 1, 0), 0xffu);  // the control word is write-only
}

}  // namespace
}  // namespace xpv::hv
