// The LDT: MMUEXT_SET_LDT with Xen's argument rules (do_mmuext_op), its
// frames held as descriptor pages while in use, and its selectors (TI=1)
// loadable by the guest. And the failsafe callback, which Xen enters when
// a data segment selector no longer loads on the way back to the guest
// (load_segments): here, an LDT selector in %fs when the LDT goes away.
#include <initializer_list>

#include "cpu-selftest/ldt.hpp"
#include "cpu-selftest/traps.hpp"
#include "cpu-selftest/user_mode.hpp"
#include "mm-common/pte.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

#include <xen/callback.h>

namespace {

using namespace cpu_selftest;
using xpv::guest::hypercall;

using guest_pte::kKernelRO;
using guest_pte::kKernelRW;
constexpr uint64_t kNonCanonical = 0x8000000000000000;

// A DPL-3 writable data segment at `base` (32 bits), limit 4 GiB.
constexpr uint64_t data_descriptor(uint32_t base) {
  return 0x00cff2000000ffffULL | (uint64_t{base & 0xffffff} << 16) | (uint64_t{base >> 24} << 56) |
         (3ULL << 45);
}
constexpr uint32_t kSegmentBase = 0x12345000;
constexpr uint16_t kLdtSelector0 = 0x7;  // index 0, TI=1, RPL 3
constexpr uint16_t kLdtSelector1 = 0xf;

alignas(4096) uint64_t ldt_page[512];
uint64_t marker = 0x1d7'5e6;

long set_ldt(uint64_t base, uint64_t entries) {
  mmuext_op_t op{};
  op.cmd = MMUEXT_SET_LDT;
  op.arg1.linear_addr = base;
  op.arg2.nr_ents = static_cast<unsigned>(entries);
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

long map_ldt_page(uint64_t flags) {
  return hypercall(__HYPERVISOR_update_va_mapping, address_of(ldt_page),
                   (xpv::guest::mfn_of(ldt_page) << 12) | flags, UVMF_INVLPG | UVMF_LOCAL);
}

void load_fs(uint16_t selector) {
  asm volatile("mov %0, %%fs" ::"r"(selector));
}

// Drops an LDT selector from %fs. Not with the null selector: under KVM's
// PVM backend a load that succeeds against the host's own descriptor
// tables (null, 0x2b, 0x33) never reaches the virtual CPU state that the
// hypervisor sees, only loads that fault there and are emulated do, so
// the hypervisor would go on seeing the LDT selector. Xen's flat data
// selector is not in the host's GDT.
void unload_fs() {
  load_fs(FLAT_USER_DS32);
  hypercall(__HYPERVISOR_set_segment_base, SEGBASE_FS, 0);
}

// Reads `marker` through %fs, assuming its base is kSegmentBase.
uint64_t read_marker_through_fs() {
  uint64_t offset = address_of(&marker) - kSegmentBase, value;
  asm volatile("mov %%fs:(%1), %0" : "=r"(value) : "r"(offset));
  return value;
}

// Installs ldt_page (one descriptor) as the LDT, and takes it away again.
struct ScopedLdt {
  long rc;
  ScopedLdt() {
    ldt_page[0] = data_descriptor(kSegmentBase);
    rc = map_ldt_page(kKernelRO);
    if (rc == 0) rc = set_ldt(address_of(ldt_page), 1);
  }
  ~ScopedLdt() {
    unload_fs();
    set_ldt(0, 0);
    map_ldt_page(kKernelRW);
  }
};

XPV_TEST(SetLdtRefusesBadArguments) {
  uint64_t page = address_of(ldt_page);
  XPV_EXPECT_EQ(set_ldt(page + 8, 1), -XEN_EINVAL);  // not page-aligned
  XPV_EXPECT_EQ(set_ldt(page, 8193), -XEN_EINVAL);   // more than an LDT holds
  XPV_EXPECT_EQ(set_ldt(kNonCanonical, 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_ldt(HYPERVISOR_VIRT_START, 1), -XEN_EINVAL);
  // With no entries the address is ignored.
  XPV_EXPECT_EQ(set_ldt(kNonCanonical + 8, 0), 0);
}

XPV_TEST(LdtDataSegmentLoadsIntoFs) {
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  long trapped = try_run([] { load_fs(kLdtSelector0); });
  XPV_ASSERT_EQ(trapped, 0);
  uint64_t seen = 0;
  XPV_EXPECT_EQ(try_run([&] { seen = read_marker_through_fs(); }), 0);
  XPV_EXPECT_EQ(seen, marker);
}

[[noreturn]] void user_reads_through_ldt_segment(uint64_t) {
  load_fs(kLdtSelector0);
  user_syscall(kSysWrite, read_marker_through_fs());
  user_syscall(kSysExit, 0);
  __builtin_trap();
}

XPV_TEST(LdtSegmentWorksFromUserMode) {
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  UserProgram program{reinterpret_cast<uint64_t>(&user_reads_through_ldt_segment), 0};
  XPV_ASSERT_EQ(run_user_programs(&program, 1), 0);
  XPV_ASSERT_EQ(process_result(0).writes, 1u);
  XPV_EXPECT_EQ(process_result(0).log[0], marker);
}

XPV_TEST(LdtSelectorBeyondItsEntriesFaults) {
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  XPV_EXPECT_EQ(try_run([] { load_fs(kLdtSelector1); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, kLdtSelector1 & ~3u);
}

// While it is the LDT the page is a descriptor page: the guest cannot map
// it writable. SET_LDT 0 gives it back.
XPV_TEST(LdtPageCannotBeMappedWritableWhileInUse) {
  {
    ScopedLdt ldt;
    XPV_ASSERT_EQ(ldt.rc, 0);
    XPV_EXPECT(map_ldt_page(kKernelRW) < 0);
  }
  XPV_EXPECT_EQ(map_ldt_page(kKernelRW), 0);
  ldt_page[1] = 0;  // writable again
}

XPV_TEST(NoLdtSelectorLoadsWithoutAnLdt) {
  XPV_EXPECT_EQ(try_run([] { load_fs(kLdtSelector0); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, kLdtSelector0 & ~3u);
}

long register_failsafe_callback() {
  callback_register reg{};
  reg.type = CALLBACKTYPE_failsafe;
  reg.address = address_of(xpv_failsafe_entry);
  return hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, address_of(&reg));
}

// Where the hypercall stub resumes after its syscall: push rcx (1 byte),
// push r11 (2), mov $nr, %eax (5), syscall (2).
uint64_t after_hypercall_syscall(unsigned nr) {
  return address_of(&xpv::guest::hypercall_page[nr]) + 10;
}

XPV_TEST(FailsafeCallbackGetsTheSelectorsWhenOneNoLongerLoads) {
  XPV_ASSERT_EQ(register_failsafe_callback(), 0);
  ScopedTrapHandler retry(kFailsafe, [](TrapFrame&) {});  // Linux's retry: just iret
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  XPV_ASSERT_EQ(try_run([] { load_fs(kLdtSelector0); }), 0);
  clear_trap_log();
  XPV_EXPECT_EQ(set_ldt(0, 0), 0);  // the hypercall's result survives the bounce
  XPV_ASSERT_EQ(trap_count(), 1u);
  const TrapFrame& f = last_trap();
  XPV_EXPECT_EQ(f.vector, kFailsafe);
  XPV_EXPECT_EQ(xpv_failsafe_selectors[2], kLdtSelector0);  // fs as it was
  XPV_EXPECT_EQ(f.rip, after_hypercall_syscall(__HYPERVISOR_mmuext_op));
  XPV_EXPECT_EQ(f.cs & 0xffff, kKernelModeCs);
  XPV_EXPECT_EQ(f.ss, FLAT_KERNEL_SS);
  // Nothing left to fail: the next table change bounces no more.
  clear_trap_log();
  XPV_EXPECT_EQ(set_ldt(address_of(ldt_page), 1), 0);
  XPV_EXPECT_EQ(trap_count(), 0u);
}

alignas(4096) uint64_t gdt_page[512];
constexpr unsigned kGdtIndex = 16;  // beyond the host's own GDT (see unload_fs)
constexpr uint16_t kGdtSelector = kGdtIndex * 8 + 3;

void load_es(uint16_t selector) {
  asm volatile("mov %0, %%es" ::"r"(selector));
}

// The same through the GDT: update_descriptor makes the entry held in %es
// not present; the way back from it enters the failsafe callback.
XPV_TEST(FailsafeCallbackAfterUpdateDescriptorRemovesALoadedSegment) {
  XPV_ASSERT_EQ(register_failsafe_callback(), 0);
  ScopedTrapHandler retry(kFailsafe, [](TrapFrame&) {});
  gdt_page[kGdtIndex] = data_descriptor(0);
  uint64_t frame = xpv::guest::mfn_of(gdt_page);
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_update_va_mapping, address_of(gdt_page),
                          (frame << 12) | kKernelRO, UVMF_INVLPG | UVMF_LOCAL),
                0);
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_set_gdt, address_of(&frame), kGdtIndex + 1), 0);
  XPV_EXPECT_EQ(try_run([] { load_es(kGdtSelector); }), 0);
  clear_trap_log();
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_update_descriptor, (frame << 12) + kGdtIndex * 8, 0), 0);
  XPV_EXPECT_EQ(trap_count(), 1u);
  XPV_EXPECT_EQ(last_trap().vector, kFailsafe);
  XPV_EXPECT_EQ(xpv_failsafe_selectors[1], kGdtSelector);  // es as it was
  XPV_EXPECT_EQ(last_trap().rip, after_hypercall_syscall(__HYPERVISOR_update_descriptor));
  load_es(FLAT_USER_DS32);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_set_gdt, 0, 0), 0);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_update_va_mapping, address_of(gdt_page),
                          (frame << 12) | kKernelRW, UVMF_INVLPG | UVMF_LOCAL),
                0);
}

// Xen's do_set_segment_base loads the user GS selector with a fixup: a
// selector that does not load becomes null, the call still returns 0, and
// the user GS base is what the load left: the descriptor's base, or 0.
XPV_TEST(GsUserSelectorTakesItsBaseFromTheLdt) {
  constexpr uint32_t kMsrShadowGsBase = 0xc0000102;  // the user GS base in kernel mode
  auto user_gs_base = [] {
    uint32_t low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(kMsrShadowGsBase));
    return (uint64_t{high} << 32) | low;
  };
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, kLdtSelector0), 0);
  XPV_EXPECT_EQ(user_gs_base(), kSegmentBase);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, kLdtSelector1), 0);
  XPV_EXPECT_EQ(user_gs_base(), 0u);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, 0), 0);
}

}  // namespace

void cpu_selftest::provoke_failsafe() {
  ldt_page[0] = data_descriptor(kSegmentBase);
  if (map_ldt_page(kKernelRO) != 0 || set_ldt(address_of(ldt_page), 1) != 0)
    xpv::guest::panic("cannot install the LDT");
  load_fs(kLdtSelector0);
  set_ldt(0, 0);
}
