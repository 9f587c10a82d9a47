// Privileged instructions a PV kernel still executes at CPL3, which fault
// with #GP and are emulated as Xen does (xen/arch/x86/pv/emul-priv-op.c):
// rdmsr/wrmsr, mov to and from CR0/CR2/CR3/CR4, clts, port I/O and
// cli/sti once the guest has I/O privilege, wbinvd, and rdtsc while the
// guest's CR4.TSD makes it fault. The decisions are pure functions below,
// apart from the vCPU, so that tests can check them without KVM.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "hv/cpuid_policy.hpp"

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// Emulates the instruction at the guest's rip if it is one Xen emulates
// for the guest's mode: advances rip (or delivers the exception the
// emulation raised, such as #UD for xsetbv or #PF for ins/outs) and
// returns true. False: the #GP stands and belongs to the guest.
bool emulate_privileged_op(vmm::Vcpu& vcpu);

// --- MSRs (Xen's read_msr/write_msr and guest_rdmsr/guest_wrmsr) -------

enum class CpuVendor { kIntel, kAmd, kOther };  // kAmd includes Hygon

struct CpuIdentity {
  CpuVendor vendor = CpuVendor::kOther;
  unsigned family = 0;  // with the extended family added, as Linux and Xen count it
};
CpuIdentity identify_cpu(const CpuidResult& leaf0, const CpuidResult& leaf1);

// What an MSR access may read from the vCPU.
struct MsrContext {
  CpuIdentity cpu;
  unsigned vcpu_id = 0;
  uint64_t fs_base = 0;
  uint64_t kernel_gs_base = 0;
  uint64_t user_gs_base = 0;
  // The vCPU's own value of an MSR KVM keeps (EFER, TSC, MISC_ENABLE,
  // UCODE_REV), read only when the access needs it; nullopt if KVM has none.
  std::function<std::optional<uint64_t>(uint32_t index)> hardware_msr;
};

// rdmsr: the value the guest reads, or nullopt for #GP.
std::optional<uint64_t> read_msr(uint32_t index, const MsrContext& context);

// Xen fakes a read of 0 for an MSR it refuses while the guest has no #GP
// handler yet (trap_table[13] empty), except in the hypervisor range
// 0x4000xxxx. Xen also requires the host MSR to exist; xpv cannot ask.
bool fakes_refused_rdmsr(uint32_t index, bool guest_has_gp_handler);

enum class MsrWrite {
  kFault,            // #GP
  kIgnore,           // accepted and dropped
  kSetFsBase,        // set_segment_base(SEGBASE_FS)
  kSetKernelGsBase,  // SEGBASE_GS_KERNEL
  kSetUserGsBase,    // SEGBASE_GS_USER
};
MsrWrite classify_msr_write(uint32_t index, uint64_t value, const MsrContext& context);

// --- Control registers ---------------------------------------------------

// mov from CR0: the real CR0 with the guest's virtual TS.
uint64_t guest_cr0(uint64_t hardware_cr0, bool virtual_ts);
// mov to CR0: the new virtual TS, or nullopt (#GP) when the value changes
// any other bit of the CR0 the guest reads.
std::optional<bool> cr0_write_ts(uint64_t value, uint64_t hardware_cr0);

// pv_fixup_guest_cr4: of `requested`, the guest keeps only the bits it may
// control (TSD, DE, FSGSBASE, OSXSAVE) that its CPUID shows, and sees the
// hardware's PAE, MCE, OSFXSR and OSXMMEXCPT.
uint64_t fixup_guest_cr4(uint64_t requested, uint64_t hardware_cr4, const CpuidResult& leaf1,
                         const CpuidResult& leaf7);
// The hardware CR4 for the guest's: CR4.TSD follows it (pv_make_cr4), so
// that guest user mode faults on rdtsc.
uint64_t hardware_cr4_for(uint64_t guest_cr4, uint64_t hardware_cr4);

}  // namespace xpv::hv
