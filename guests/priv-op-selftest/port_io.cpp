// in/out/ins/outs and cli/sti: refused (#GP) until PHYSDEVOP_set_iopl
// grants I/O privilege, then answered as Xen answers a domU: unbacked
// ports read all-ones, 0xcf8 and 0x70 latch, PIT channel 2 counts.
// The tests run in order: without privilege, with it, and with the other
// ways to get it.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace priv_op;

constexpr uint64_t kUnmapped = 0x10000;

// rep ins/outs: returns the final rdi/rsi and rcx.
struct StringResult {
  uint64_t index, count;
};

StringResult rep_insb(uint16_t port, void* buffer, uint64_t count) {
  StringResult r;
  asm volatile("rep insb"
               : "=D"(r.index), "=c"(r.count)
               : "d"(port), "0"(buffer), "1"(count)
               : "memory");
  return r;
}
StringResult rep_insl(uint16_t port, void* buffer, uint64_t count) {
  StringResult r;
  asm volatile("rep insl"
               : "=D"(r.index), "=c"(r.count)
               : "d"(port), "0"(buffer), "1"(count)
               : "memory");
  return r;
}
StringResult rep_outsw(uint16_t port, const void* buffer, uint64_t count) {
  StringResult r;
  asm volatile("rep outsw"
               : "=S"(r.index), "=c"(r.count)
               : "d"(port), "0"(buffer), "1"(count)
               : "memory");
  return r;
}
// std; rep insb; cld: fills downwards from `last`.
StringResult rep_insb_down(uint16_t port, void* last, uint64_t count) {
  StringResult r;
  asm volatile("std; rep insb; cld"
               : "=D"(r.index), "=c"(r.count)
               : "d"(port), "0"(last), "1"(count)
               : "memory", "cc");
  return r;
}

uintptr_t address(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

// --- Without I/O privilege ---------------------------------------------

XPV_TEST(PortIoRaisesGpWithoutIoPrivilege) {
  Trap trap = try_run([] { priv_probe_inb_0x80(); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(trap.error_code, 0u);
  XPV_EXPECT_EQ(trap.rip, address(priv_probe_inb_0x80_site));
  XPV_EXPECT_EQ(try_run([] { outb(0x80, 0); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { (void)inl(0xcf8); }).vector, kGeneralProtection);
  static uint8_t buffer[4];
  XPV_EXPECT_EQ(try_run([] { rep_insb(0x80, buffer, 4); }).vector, kGeneralProtection);
}

XPV_TEST(CliAndStiRaiseGpWithoutIoPrivilege) {
  XPV_EXPECT_EQ(try_run([] { cli(); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { sti(); }).vector, kGeneralProtection);
}

XPV_TEST(SetIoplRefusesLevelsAboveThree) {
  XPV_EXPECT_EQ(set_iopl(4), -XEN_EINVAL);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_set_iopl, reinterpret_cast<void*>(kUnmapped)), -XEN_EFAULT);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x80); }).vector, kGeneralProtection);
}

// --- With IOPL 1, what Linux asks for ----------------------------------

XPV_TEST(SetIoplOneGrantsPortIo) {
  XPV_ASSERT_EQ(set_iopl(1), 0);
  XPV_EXPECT(!try_run([] { (void)inb(0x80); }).taken);
}

XPV_TEST(UnbackedPortsReadAllOnesAndDropWrites) {
  XPV_EXPECT_EQ(inb(0x80), 0xffu);
  XPV_EXPECT_EQ(inw(0x3f8), 0xffffu);
  XPV_EXPECT_EQ(inl(0x64), 0xffffffffu);
  outb(0x80, 0x12);
  outw(0x3f8, 0x1234);
  XPV_EXPECT_EQ(inb(0x80), 0xffu);
}

XPV_TEST(DwordInZeroExtendsAndNarrowerInsKeepTheRestOfRax) {
  uint64_t rax = 0x1122334455667788;
  asm volatile("inb $0x80, %%al" : "+a"(rax));
  XPV_EXPECT_EQ(rax, 0x11223344556677ffu);
  asm volatile("inw $0x80, %%ax" : "+a"(rax));
  XPV_EXPECT_EQ(rax, 0x112233445566ffffu);
  asm volatile("inl $0x80, %%eax" : "+a"(rax));
  XPV_EXPECT_EQ(rax, 0xffffffffu);
}

XPV_TEST(PciConfigAddressLatchesADword) {
  outl(0xcf8, 0x80001008);
  XPV_EXPECT_EQ(inl(0xcf8), 0x80001008u);
  XPV_EXPECT_EQ(inb(0xcf8), 0xffu);
  outw(0xcf8, 0);  // not a dword: not the address register
  XPV_EXPECT_EQ(inl(0xcf8), 0x80001008u);
  XPV_EXPECT_EQ(inl(0xcfc), 0xffffffffu);  // no device answers
  outl(0xcf8, 0);
}

XPV_TEST(CmosIndexLatchesWithoutTheNmiBit) {
  outb(0x70, 0x8a);
  XPV_EXPECT_EQ(inb(0x70), 0x0au);
  XPV_EXPECT_EQ(inb(0x71), 0xffu);
}

// Channel 2 in mode 0 (interrupt on terminal count) with its gate on:
// the counter falls and OUT2, bit 5 of port 0x61, rises after 1193 ticks
// (1 ms at 1.193182 MHz).
XPV_TEST(PitChannel2CountsDownAndRaisesOut2) {
  outb(0x61, 0);     // gate off, speaker off
  outb(0x43, 0xb0);  // channel 2, low then high byte, mode 0
  outb(0x42, 1193 & 0xff);
  outb(0x42, 1193 >> 8);
  XPV_EXPECT_EQ(inb(0x61) & 0x23, 0u);  // gate, speaker, OUT2 low
  outb(0x61, 1);
  XPV_EXPECT_EQ(inb(0x61) & 0x03, 1u);
  outb(0x43, 0x80);  // latch channel 2
  unsigned count = inb(0x42);
  count |= inb(0x42) << 8;
  XPV_EXPECT(count <= 1193);
  unsigned polls = 0;
  while ((inb(0x61) & 0x20) == 0 && polls < 1000000)
    ++polls;
  XPV_EXPECT((inb(0x61) & 0x20) != 0);
  outb(0x61, 0);
}

XPV_TEST(RepInsFillsMemoryWithAllOnes) {
  static uint8_t bytes[20];
  memset(bytes, 0, sizeof bytes);
  StringResult r = rep_insb(0x80, bytes + 2, 16);
  XPV_EXPECT_EQ(r.count, 0u);
  XPV_EXPECT_EQ(r.index, address(bytes + 18));
  XPV_EXPECT_EQ(bytes[1], 0u);
  XPV_EXPECT_EQ(bytes[2], 0xffu);
  XPV_EXPECT_EQ(bytes[17], 0xffu);
  XPV_EXPECT_EQ(bytes[18], 0u);

  static uint32_t dwords[3];
  memset(dwords, 0, sizeof dwords);
  outl(0xcf8, 0x80000004);
  r = rep_insl(0xcf8, dwords, 2);  // a dword at 0xcf8 reads the latch
  outl(0xcf8, 0);
  XPV_EXPECT_EQ(r.index, address(dwords + 2));
  XPV_EXPECT_EQ(dwords[0], 0x80000004u);
  XPV_EXPECT_EQ(dwords[1], 0x80000004u);
  XPV_EXPECT_EQ(dwords[2], 0u);
}

XPV_TEST(RepInsRunsDownwardsWithDf) {
  static uint8_t bytes[8];
  memset(bytes, 0, sizeof bytes);
  StringResult r = rep_insb_down(0x80, bytes + 5, 4);
  XPV_EXPECT_EQ(r.count, 0u);
  XPV_EXPECT_EQ(r.index, address(bytes + 1));
  XPV_EXPECT_EQ(bytes[1], 0u);
  XPV_EXPECT_EQ(bytes[2], 0xffu);
  XPV_EXPECT_EQ(bytes[5], 0xffu);
  XPV_EXPECT_EQ(bytes[6], 0u);
}

XPV_TEST(RepOutsConsumesTheBuffer) {
  static const uint16_t words[3] = {1, 2, 3};
  StringResult r = rep_outsw(0x80, words, 3);
  XPV_EXPECT_EQ(r.count, 0u);
  XPV_EXPECT_EQ(r.index, address(words + 3));
}

// A large count is done in pieces, across several exits.
XPV_TEST(LongRepInsCompletes) {
  static uint8_t bytes[10000];
  memset(bytes, 0, sizeof bytes);
  StringResult r = rep_insb(0x80, bytes, sizeof bytes);
  XPV_EXPECT_EQ(r.count, 0u);
  XPV_EXPECT_EQ(bytes[0], 0xffu);
  XPV_EXPECT_EQ(bytes[9999], 0xffu);
}

XPV_TEST(InsIntoUnmappedMemoryRaisesAWritePageFault) {
  Trap trap = try_run([] { rep_insb(0x80, reinterpret_cast<void*>(kUnmapped), 2); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kPageFault);
  XPV_EXPECT_EQ(trap.error_code, 2u);  // write, kernel mode
  XPV_EXPECT_EQ(read_cr2(), kUnmapped);
}

XPV_TEST(CliAndStiAreNoOpsWithIoPrivilege) {
  XPV_EXPECT(!try_run([] {
                cli();
                sti();
              }).taken);
}

// --- Other grants ------------------------------------------------------

XPV_TEST(ArchitecturalIoplTreatsTheKernelAsRingZero) {
  XPV_ASSERT_EQ(set_iopl(0), 0);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x80); }).vector, kGeneralProtection);
  XPV_ASSERT_EQ(xpv::guest::hypercall(__HYPERVISOR_vm_assist, VMASST_CMD_enable,
                                      VMASST_TYPE_architectural_iopl),
                0);
  XPV_EXPECT(!try_run([] { (void)inb(0x80); }).taken);
  XPV_EXPECT(!try_run([] { cli(); }).taken);
  XPV_ASSERT_EQ(xpv::guest::hypercall(__HYPERVISOR_vm_assist, VMASST_CMD_disable,
                                      VMASST_TYPE_architectural_iopl),
                0);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x80); }).vector, kGeneralProtection);
}

alignas(4096) uint8_t io_bitmap[8192];

long set_iobitmap(const void* bitmap, uint32_t nr_ports) {
  physdev_set_iobitmap request{};
  set_xen_guest_handle(request.bitmap, static_cast<uint8_t*>(const_cast<void*>(bitmap)));
  request.nr_ports = nr_ports;
  return physdev_call(PHYSDEVOP_set_iobitmap, &request);
}

XPV_TEST(IoBitmapGrantsThePortsItClears) {
  memset(io_bitmap, 0xff, sizeof io_bitmap);
  io_bitmap[0x80 / 8] &= static_cast<uint8_t>(~(1U << (0x80 % 8)));
  XPV_ASSERT_EQ(set_iobitmap(io_bitmap, 0x100), 0);
  XPV_EXPECT(!try_run([] { (void)inb(0x80); }).taken);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x81); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { (void)inw(0x80); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x300); }).vector, kGeneralProtection);  // not covered
  XPV_EXPECT_EQ(try_run([] { cli(); }).vector, kGeneralProtection);             // IOPL alone
  XPV_ASSERT_EQ(set_iobitmap(nullptr, 0), 0);
  XPV_EXPECT_EQ(try_run([] { (void)inb(0x80); }).vector, kGeneralProtection);
}

XPV_TEST(IoBitmapThatCannotBeReadRaisesPageFault) {
  XPV_ASSERT_EQ(set_iobitmap(reinterpret_cast<void*>(kUnmapped), 0x100), 0);
  Trap trap = try_run([] { (void)inb(0x80); });
  XPV_EXPECT_EQ(trap.vector, kPageFault);
  XPV_EXPECT_EQ(read_cr2(), kUnmapped + 0x80 / 8);
  XPV_ASSERT_EQ(set_iobitmap(nullptr, 0), 0);
}

XPV_TEST(SetIobitmapRefusesXensRangeAndTooManyPorts) {
  XPV_EXPECT_EQ(set_iobitmap(reinterpret_cast<void*>(HYPERVISOR_VIRT_START), 0x100), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_iobitmap(io_bitmap, 65537), -XEN_EINVAL);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_set_iobitmap, reinterpret_cast<void*>(kUnmapped)),
                -XEN_EFAULT);
}

}  // namespace
