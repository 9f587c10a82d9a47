#include "hv/vcpu_context.hpp"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.hpp"
#include "base/x86.hpp"
#include "hv/descriptor_tables.hpp"
#include "hv/handlers.hpp"
#include "hv/iret.hpp"
#include "hv/mmuext_op.hpp"
#include "monitor/layout.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using x86::is_canonical;

constexpr long kInvalid = xen::error(XEN_EINVAL);
constexpr uint64_t kCr0Ts = 1ULL << 3;
constexpr unsigned kMaxLdtEntries = 8192;
constexpr size_t kMaxGdtFrames = std::size(vcpu_guest_context_t{}.gdt_frames);

// Xen's __addr_ok: an address a guest may use, canonical and outside the
// hypervisor's hole (breakpoints, the LDT base).
bool guest_address(uint64_t va) {
  return is_canonical(va) && !monitor::in_hole(va);
}

bool addresses_canonical(const vcpu_guest_context_t& c) {
  for (uint64_t va :
       {c.user_regs.rip, c.user_regs.rsp, c.kernel_sp, c.fs_base, c.gs_base_kernel, c.gs_base_user,
        c.event_callback_eip, c.failsafe_callback_eip, c.syscall_callback_eip})
    if (!is_canonical(va)) return false;
  for (const trap_info_t& trap : c.trap_ctxt)
    if (!is_canonical(trap.address)) return false;
  return true;
}

bool debug_registers_valid(const vcpu_guest_context_t& c) {
  for (unsigned i = 0; i < 4; ++i)
    if (!guest_address(c.debugreg[i])) return false;
  return c.debugreg[6] == static_cast<uint32_t>(c.debugreg[6]) &&
         c.debugreg[7] == static_cast<uint32_t>(c.debugreg[7]);
}

// Xen applies each register as set_debugreg would and ignores what it
// refuses (arch_set_info_guest after its own checks).
void load_debug_registers(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  for (unsigned reg : {0U, 1U, 2U, 3U, 6U, 7U})
    do_set_debugreg(target, HypercallArgs{__HYPERVISOR_set_debugreg, {reg, c.debugreg[reg]}});
}

// VGCF_i387_valid: the FXSAVE image becomes the vCPU's x87/SSE state, with
// MXCSR's reserved bits cleared as Xen's vcpu_setup_fpu does. Without it
// the vCPU keeps the reset state KVM gave it (vcpu_reset_fpu).
long load_fpu(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  if ((c.flags & VGCF_i387_valid) == 0) return 0;
  constexpr size_t kMxcsrOffset = 24;
  constexpr uint32_t kMxcsrValid = 0xffff;
  constexpr size_t kXstateBvOffset = 512;
  constexpr uint64_t kX87AndSse = 3;
  kvm_xsave xsave{};
  int fd = target.kvm_vcpu().fd();
  if (::ioctl(fd, KVM_GET_XSAVE, &xsave) != 0) throw SystemError("KVM_GET_XSAVE", errno);
  auto* bytes = reinterpret_cast<uint8_t*>(xsave.region);
  std::memcpy(bytes, c.fpu_ctxt.x, sizeof c.fpu_ctxt.x);
  uint32_t mxcsr = 0;
  std::memcpy(&mxcsr, bytes + kMxcsrOffset, sizeof mxcsr);
  mxcsr &= kMxcsrValid;
  std::memcpy(bytes + kMxcsrOffset, &mxcsr, sizeof mxcsr);
  uint64_t xstate_bv = 0;
  std::memcpy(&xstate_bv, bytes + kXstateBvOffset, sizeof xstate_bv);
  xstate_bv |= kX87AndSse;
  std::memcpy(bytes + kXstateBvOffset, &xstate_bv, sizeof xstate_bv);
  return ::ioctl(fd, KVM_SET_XSAVE, &xsave) == 0 ? 0 : kInvalid;
}

long load_gdt(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  std::vector<uint64_t> frames(c.gdt_frames, c.gdt_frames + (c.gdt_ents + 511) / 512);
  return set_gdt(target, std::move(frames), c.gdt_ents);
}

// The selectors the vCPU starts with, checked against its GDT and LDT as
// the iret path checks a return frame.
bool selectors_valid(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  return valid_code_selector(target, (c.user_regs.cs & 0xffff) | 3) &&
         valid_stack_selector(target, (c.user_regs.ss & 0xffff) | 3) &&
         valid_stack_selector(target, (c.kernel_ss & 0xffff) | 3);
}

void release_kernel_root(vmm::Vcpu& target) {
  target.domain().page_types().put_type(target.kernel_root_mfn());
  target.set_kernel_root(0);
}

// Both roots with their L4 type references (Xen: get_page_type of
// PGT_root_page_table on ctrlreg[3] and, if given, ctrlreg[1]).
long load_roots(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  vmm::Domain& d = target.domain();
  uint64_t kernel = xen_cr3_to_pfn(c.ctrlreg[3]), user = xen_cr3_to_pfn(c.ctrlreg[1]);
  if (!d.ram().owns(kernel) || (user != 0 && !d.ram().owns(user))) return kInvalid;
  if (long rc = set_baseptr(target, kernel, false); rc != 0) return rc;
  long rc = set_baseptr(target, user, true);
  if (rc != 0) release_kernel_root(target);
  return rc;
}

// The tables of a context that was refused after they were taken.
void release_tables(vmm::Vcpu& target) {
  release_ldt(target);
  set_baseptr(target, 0, true);
  release_kernel_root(target);
  set_gdt(target, {}, 0);
}

void load_entry_points(vmm::Vcpu& target, const vcpu_guest_context_t& c) {
  auto& traps = target.trap_table();
  for (size_t vector = 0; vector < traps.size(); ++vector) {
    traps[vector] = c.trap_ctxt[vector];
    traps[vector].cs |= 3;  // fixup_guest_code_selector: a PV kernel runs in ring 3
  }
  auto& callbacks = target.callbacks();
  callbacks[CALLBACKTYPE_event] = {c.event_callback_eip, false};
  callbacks[CALLBACKTYPE_failsafe] = {c.failsafe_callback_eip,
                                      (c.flags & VGCF_failsafe_disables_events) != 0};
  callbacks[CALLBACKTYPE_syscall] = {c.syscall_callback_eip,
                                     (c.flags & VGCF_syscall_disables_events) != 0};
  target.kernel_ss = c.kernel_ss | 3;  // fixup_guest_stack_selector
  target.kernel_sp = c.kernel_sp;
}

kvm_regs general_registers(const cpu_user_regs_t& u) {
  kvm_regs r{};
  r.rax = u.rax;
  r.rbx = u.rbx;
  r.rcx = u.rcx;
  r.rdx = u.rdx;
  r.rsi = u.rsi;
  r.rdi = u.rdi;
  r.rbp = u.rbp;
  r.r8 = u.r8;
  r.r9 = u.r9;
  r.r10 = u.r10;
  r.r11 = u.r11;
  r.r12 = u.r12;
  r.r13 = u.r13;
  r.r14 = u.r14;
  r.r15 = u.r15;
  return r;
}

// IOPL is virtual and IF always set in hardware (the guest's own IF is its
// upcall mask); VM cannot be entered (arch_set_info_guest).
vmm::GuestFrame start_frame(const cpu_user_regs_t& u) {
  uint64_t rflags = (u.rflags & ~(x86::rflags::kIopl | x86::rflags::kVm)) | x86::rflags::kIf;
  return vmm::GuestFrame{u.rip, (u.cs & 0xffffU) | 3U, rflags, u.rsp, (u.ss & 0xffffU) | 3U};
}

}  // namespace

long check_vcpu_context(const vcpu_guest_context_t& c) {
  if (!debug_registers_valid(c) || !addresses_canonical(c)) return kInvalid;
  if (!guest_address(c.ldt_base) || c.ldt_base % xen::kPageSize != 0 || c.ldt_ents > kMaxLdtEntries)
    return kInvalid;
  if (c.gdt_ents > FIRST_RESERVED_GDT_ENTRY || (c.gdt_ents + 511) / 512 > kMaxGdtFrames)
    return kInvalid;
  // A vCPU starting in user mode needs user page tables.
  if ((c.flags & VGCF_in_kernel) == 0 && c.ctrlreg[1] == 0) return kInvalid;
  return 0;
}

long load_vcpu_context(vmm::Vcpu& target, vcpu_guest_context_t c) {
  if (long rc = check_vcpu_context(c); rc != 0) return rc;
  // The FPU first: it is the one part that needs no undoing if what
  // follows is refused, for the vCPU stays without a context.
  if (long rc = load_fpu(target, c); rc != 0) return rc;
  if (long rc = load_gdt(target, c); rc != 0) return rc;
  if (long rc = load_roots(target, c); rc != 0) {
    set_gdt(target, {}, 0);
    return rc;
  }
  // The LDT is read through the new kernel root (Xen maps it lazily).
  long rc = set_ldt(target, c.ldt_base, c.ldt_ents);
  if (rc == 0 && !selectors_valid(target, c)) rc = kInvalid;
  if (rc != 0) {
    release_tables(target);
    return rc;
  }
  load_entry_points(target, c);
  target.set_fs_base(c.fs_base);
  target.set_kernel_gs_base(c.gs_base_kernel);
  target.set_user_gs_base(c.gs_base_user);
  target.emulated.iopl = static_cast<unsigned>((c.user_regs.rflags & x86::rflags::kIopl) >> 12);
  target.virtual_ts = (c.ctrlreg[0] & kCr0Ts) != 0;
  load_debug_registers(target, c);
  target.start_in_context(general_registers(c.user_regs), start_frame(c.user_regs),
                          (c.flags & VGCF_in_kernel) != 0);
  if ((c.flags & VGCF_online) != 0) target.bring_online();
  return 0;
}

}  // namespace xpv::hv
