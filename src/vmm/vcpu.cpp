#include "vmm/vcpu.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "base/hex.hpp"
#include "base/x86.hpp"
#include "hv/cpuid_policy.hpp"
#include "hv/emulate_invalid_op.hpp"
#include "hv/emulate_priv_op.hpp"
#include "hv/failsafe.hpp"
#include "hv/hypercall.hpp"
#include "hv/ro_page_fault.hpp"
#include "hv/traps.hpp"
#include "monitor/monitor.hpp"
#include "vmm/crash_report.hpp"
#include "vmm/domain.hpp"

namespace xpv::vmm {

namespace {

using namespace x86;

constexpr size_t kRecentHypercalls = 16;
constexpr size_t kIretFrameQwords = 5;

// Flags a PV guest may hold in hardware. IF is always on (the guest's
// virtual IF is its upcall mask); IOPL, NT and VM never reach the CPU.
uint64_t sanitize_rflags(uint64_t guest) {
  constexpr uint64_t kArithmetic = 0x8d5;  // CF PF AF ZF SF OF
  constexpr uint64_t kId = 1ULL << 21;
  return (guest & (kArithmetic | rflags::kTf | rflags::kDf | rflags::kAc | rflags::kRf | kId)) |
         rflags::kIf | rflags::kFixed;
}

}  // namespace

Vcpu::Vcpu(Domain& domain, const kvm::Vm& vm, unsigned id)
    : domain_(domain), id_(id), fd_(vm, id), vcpu_info_(&domain.shared_info().vcpu_info[id]) {
  hv::CpuidPolicy::instance(vm.system()).apply(fd_);
  // Only vCPU 0 runs from the start; the others wait for VCPUOP_up.
  runstate_.info.state = id == 0 ? RUNSTATE_running : RUNSTATE_offline;
}

Vcpu::~Vcpu() {
  join_thread();
}

void Vcpu::set_initial_state(uint64_t entry, uint64_t rsp, uint64_t start_info_va,
                             uint64_t root_mfn) {
  kernel_root_mfn_ = root_mfn;
  kvm_regs gprs{};
  gprs.rsi = start_info_va;
  start_in_context(gprs, GuestFrame{entry, FLAT_RING3_CS64, rflags::kIf, rsp, FLAT_RING3_SS64},
                   true);
}

// The monitor's tables first (they reset the segment registers), then
// what the guest context asks for on top of them.
void Vcpu::start_in_context(const kvm_regs& gprs, const GuestFrame& frame, bool kernel_mode) {
  kvm_segment ldtr = fd_.get_sregs().ldt;  // an LDT VCPUOP_initialise loaded stays
  domain_.monitor().configure_vcpu(fd_, kernel_root_mfn_.load() << 12);
  if (ldt_.entries != 0) {
    kvm_sregs s = fd_.get_sregs();
    s.ldt = ldtr;
    fd_.set_sregs(s);
  }
  fd_.regs() = gprs;
  frame_ = frame;
  kernel_mode_ = true;
  write_gs_msrs(true);
  if (!kernel_mode) enter_mode(false);
  fd_.set_msr(msr::kFsBase, fs_base_);
  if (virtual_ts) set_hardware_ts(true);
  initialised_.store(true);
  return_to_guest();
}

void Vcpu::bring_online() {
  {
    std::lock_guard lock(online_mutex_);
    if (online_) return;
    online_ = true;
    online_cv_.notify_all();
  }
  change_runstate(RUNSTATE_running);
}

// From any thread: a vCPU running guest code is made to leave it.
void Vcpu::take_offline() {
  {
    std::lock_guard lock(online_mutex_);
    if (!online_) return;
    online_ = false;
  }
  change_runstate(RUNSTATE_offline);
  kick();
}

bool Vcpu::online() {
  std::lock_guard lock(online_mutex_);
  return online_;
}

void Vcpu::start_thread() {
  thread_ = std::thread([this] { run(); });
}

void Vcpu::join_thread() {
  if (thread_.joinable()) thread_.join();
}

bool Vcpu::event_deliverable() {
  const vcpu_info_t& vi = vcpu_info();
  return __atomic_load_n(&vi.evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0 &&
         __atomic_load_n(&vi.evtchn_upcall_mask, __ATOMIC_SEQ_CST) == 0 &&
         callbacks_[CALLBACKTYPE_event].address != 0;
}

// On any way back to the guest, a pending unmasked event enters the guest
// kernel's event callback first, with events masked (Xen's
// test_guest_events). False when the domain had to be crashed.
bool Vcpu::deliver_pending_event() {
  if (!event_deliverable()) return true;
  if (hv::bounce_to_guest(*this, callbacks_[CALLBACKTYPE_event].address, true, nullptr))
    return true;
  crash("cannot deliver an event upcall: bad guest kernel stack");
  return false;
}

// A vCPU stopped in guest code enters the monitor through an injected
// interrupt as soon as the guest can take one (it always can, except while
// the vCPU is inside the monitor itself).
void Vcpu::enter_monitor_soon() {
  kvm_run& r = fd_.run_state();
  if (r.ready_for_interrupt_injection != 0 && r.if_flag != 0) {
    kvm_interrupt irq{monitor::kKickVector};
    if (::ioctl(fd_.fd(), KVM_INTERRUPT, &irq) != 0) throw SystemError("KVM_INTERRUPT", errno);
  } else {
    r.request_interrupt_window = 1;
  }
}

void Vcpu::notify_event() {
  {
    std::lock_guard lock(online_mutex_);
    online_cv_.notify_all();  // a blocked vCPU wakes
  }
  if (std::this_thread::get_id() == thread_.get_id()) return;  // delivered on its way back
  kick();
}

void Vcpu::block() {
  __atomic_store_n(&vcpu_info().evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
  change_runstate(RUNSTATE_blocked);
  bool online = true;
  {
    std::unique_lock lock(online_mutex_);
    online_cv_.wait(lock, [this] {
      return __atomic_load_n(&vcpu_info().evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0 ||
             domain_.ending() || !online_;
    });
    online = online_;
  }
  if (online) change_runstate(RUNSTATE_running);  // else take_offline made it offline
}

void Vcpu::change_runstate(int state) {
  std::lock_guard lock(runstate_mutex_);
  runstate_.change(state, domain_.clock().system_time_ns());
  publish_runstate();
}

void Vcpu::register_runstate_area(uint64_t va) {
  std::lock_guard lock(runstate_mutex_);
  runstate_.area_va = va;
  publish_runstate();
}

vcpu_runstate_info_t Vcpu::runstate_info() {
  std::lock_guard lock(runstate_mutex_);
  return runstate_.at(domain_.clock().system_time_ns());
}

// Xen's do_poll (xen/common/sched/core.c) blocks without unmasking; a new
// unmasked event wakes it as it wakes SCHEDOP_block (vcpu_kick), and so
// does a listed port turning pending even while masked
// (evtchn_check_pollers), or the poll timer.
void Vcpu::poll(const std::function<bool()>& woken, uint64_t deadline_ns) {
  auto done = [&] {
    const vcpu_info_t& vi = vcpu_info();  // Xen's local_events_need_delivery
    bool event = __atomic_load_n(&vi.evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0 &&
                 __atomic_load_n(&vi.evtchn_upcall_mask, __ATOMIC_SEQ_CST) == 0;
    return event || woken() || domain_.ending() || !online_;
  };
  uint64_t now = domain_.clock().system_time_ns();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::nanoseconds(deadline_ns > now ? deadline_ns - now : 0);
  change_runstate(RUNSTATE_blocked);
  polling_.store(true);
  {
    std::unique_lock lock(online_mutex_);
    if (deadline_ns == 0)
      online_cv_.wait(lock, done);
    else
      online_cv_.wait_until(lock, deadline, done);
  }
  polling_.store(false);
  if (online()) change_runstate(RUNSTATE_running);  // else take_offline made it offline
}

void Vcpu::wake_if_polling() {
  if (!polling_.load()) return;
  std::lock_guard lock(online_mutex_);
  online_cv_.notify_all();
}

// Through the kernel's page tables: the area is a kernel address, and Xen
// writes it whatever mode the vCPU is in. With the runstate_update_flag
// assist, XEN_RUNSTATE_UPDATE marks the write in progress.
void Vcpu::publish_runstate() {
  if (runstate_.area_va == 0) return;
  auto memory = kernel_memory();
  bool flag = (domain_.vm_assist().load() & (1ULL << VMASST_TYPE_runstate_update_flag)) != 0;
  vcpu_runstate_info_t info = runstate_.info;
  uint64_t entry_va = runstate_.area_va + offsetof(vcpu_runstate_info_t, state_entry_time);
  if (flag) memory.write(entry_va, info.state_entry_time | XEN_RUNSTATE_UPDATE);
  memory.write(runstate_.area_va, info);
}

void Vcpu::kick() {
  fd_.request_immediate_exit();
  {
    std::lock_guard lock(online_mutex_);
    online_cv_.notify_all();
  }
  if (thread_.joinable()) pthread_kill(thread_.native_handle(), SIGUSR1);
}

void Vcpu::wait_until_online() {
  std::unique_lock lock(online_mutex_);
  online_cv_.wait(lock, [this] { return online_ || domain_.ending(); });
}

namespace {
thread_local Vcpu* current_vcpu = nullptr;
}

Vcpu* Vcpu::current() {
  return current_vcpu;
}

void Vcpu::run() {
  current_vcpu = this;
  try {
    while (!domain_.ending()) {
      wait_until_online();
      if (domain_.ending()) break;
      domain_.resync_shadow_page_tables();  // not in_guest_ yet: it kicks the others only
      // in_guest_ before the flush check: a vCPU that asks for a flush
      // after it sees it set and waits for this one to leave the guest.
      in_guest_.store(true);
      bool exited = false;
      {
        RunGate::Running running(domain_.run_gate());
        flush_tlb_if_requested();
        exited = fd_.run();
      }
      guest_exits_.fetch_add(1);
      in_guest_.store(false);
      if (exited)
        handle_exit();
      else if (event_deliverable())
        enter_monitor_soon();
    }
  } catch (const std::exception& e) {
    // A host failure ends this domain, never the xpv process by surprise.
    crash(std::string("xpv internal error: ") + e.what(), DomainEnd::kXpvFailure);
  }
}

// The main exit dispatch: every guest event arrives as an `out` from a
// monitor stub; anything else means the vCPU is in a state xpv never sets up.
void Vcpu::handle_exit() {
  const kvm_run& r = fd_.run_state();
  switch (r.exit_reason) {
    case KVM_EXIT_IO:
      if (r.io.direction == KVM_EXIT_IO_OUT) return handle_monitor_entry();
      return crash("port input from the monitor at " + to_hex(regs().rip));
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      fd_.run_state().request_interrupt_window = 0;
      return enter_monitor_soon();
    case KVM_EXIT_SHUTDOWN:
      return crash("triple fault: the vCPU shut down (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_INTERNAL_ERROR:
      return crash("KVM internal error, suberror " + std::to_string(r.internal.suberror));
    case KVM_EXIT_FAIL_ENTRY:
      return crash("KVM could not enter the guest, reason " +
                   to_hex(r.fail_entry.hardware_entry_failure_reason));
    default:
      return crash("unexpected KVM exit " + std::to_string(r.exit_reason));
  }
}

void Vcpu::handle_monitor_entry() {
  auto& stats = domain_.stats();
  if (stats.exits.fetch_add(1) == 0) stats.first_entry.store(std::chrono::steady_clock::now());
  monitor::Entry entry = monitor::Monitor::classify_exit(regs().rip);
  switch (entry.kind) {
    case monitor::EntryKind::kException: {
      uint64_t error_code = 0;
      uint64_t cr2 = entry.cr2_in_rax ? take_cr2_from_stub() : 0;
      if (!capture_exception_frame(entry.vector, error_code)) return;
      if (entry.vector == monitor::kKickVector) break;  // only to deliver events, on the way back
      if (entry.vector == vector::kGeneralProtection &&
          monitor::Monitor::classify_trampoline(frame_.rip).kind == monitor::EntryKind::kSyscall64)
        handle_syscall();
      else
        handle_exception(entry.vector, error_code, cr2);
      break;
    }
    case monitor::EntryKind::kSyscall64:
      handle_syscall();
      break;
    case monitor::EntryKind::kSyscall32:
    case monitor::EntryKind::kSysenter:
      return crash("32-bit syscall/sysenter: xpv runs 64-bit PV guests only");
    case monitor::EntryKind::kUnknown:
      return crash("vCPU left the monitor at unexpected address " + to_hex(regs().rip));
  }
  if (!domain_.ending()) return_to_guest();
}

// Reads the frame the CPU pushed on the monitor stack. A frame anywhere
// but the top of that stack, or one from ring 0, is a fault inside the
// monitor itself: the domain is crashed, xpv carries on.
// The #PF stub pushed the guest's rax and left CR2 in rax.
uint64_t Vcpu::take_cr2_from_stub() {
  uint64_t cr2 = regs().rax;
  auto saved = domain_.monitor().stack_slice(id_, regs().rsp, 1);
  if (saved.empty()) return cr2;  // capture_exception_frame reports the bad stack
  regs().rax = saved[0];
  regs().rsp += sizeof(uint64_t);
  return cr2;
}

bool Vcpu::capture_exception_frame(unsigned vector, uint64_t& error_code) {
  size_t qwords = kIretFrameQwords + (vector::has_error_code(vector) ? 1 : 0);
  uint64_t expected_rsp = domain_.monitor().stack_top_va(id_) - qwords * 8;
  auto stack = domain_.monitor().stack_slice(id_, expected_rsp, qwords);
  if (regs().rsp != expected_rsp || stack.empty()) {
    crash(std::string("nested ") + vector::mnemonic(vector) + " inside the monitor (rsp " +
          to_hex(regs().rsp) + ")");
    return false;
  }
  error_code = qwords > kIretFrameQwords ? stack[0] : 0;
  auto f = stack.subspan(qwords - kIretFrameQwords);
  frame_ = GuestFrame{f[0], f[1], f[2], f[3], f[4]};
  regs().rip = frame_.rip;
  regs().rsp = frame_.rsp;
  regs().rflags = frame_.rflags;
  if ((frame_.cs & 3) != 3) {
    crash(std::string(vector::mnemonic(vector)) + " in the monitor (ring 0) at " +
          to_hex(frame_.rip));
    return false;
  }
  return true;
}

// Xen's order (xen/arch/x86/traps.c): what the hypervisor emulates for a
// PV guest first, then delivery through the guest's trap table.
void Vcpu::handle_exception(unsigned vec, uint64_t error_code, uint64_t cr2) {
  if (vec == vector::kGeneralProtection && hv::deliver_software_interrupt(*this, error_code))
    return;
  if (vec == vector::kGeneralProtection && hv::emulate_privileged_op(*this)) return;
  if (vec == vector::kInvalidOpcode && hv::emulate_forced_invalid_op(*this)) return;
  if (vec == vector::kInvalidOpcode && hv::deliver_int_from_invalid_opcode(*this)) return;
  if (vec == vector::kDeviceNotAvailable && virtual_ts) {
    virtual_ts = false;  // do_device_not_available: clear TS, then tell the guest
    set_hardware_ts(false);
  }
  hv::Exception e{vec, vector::has_error_code(vec), error_code, 0};
  if (vec == vector::kPageFault) {
    e.cr2 = cr2;
    // The U/S bit tells the guest which of its modes faulted: both run at CPL3.
    e.error_code = kernel_mode_ ? (error_code & ~4ULL) : (error_code | 4ULL);
  }
  if (vec == vector::kPageFault && hv::emulate_ro_page_fault(*this, error_code, e.cr2)) return;
  hv::deliver_exception(*this, e);
}

void Vcpu::set_hardware_ts(bool ts) {
  kvm_sregs s = fd_.get_sregs();
  s.cr0 = ts ? (s.cr0 | (1ULL << 3)) : (s.cr0 & ~(1ULL << 3));
  fd_.set_sregs(s);
}

// `syscall` from guest kernel mode is a hypercall (number in rax, arguments
// in rdi rsi rdx r10 r8); Xen returns with rcx/r11 as sysret leaves them.
// From guest user mode it is a system call for the guest kernel.
void Vcpu::handle_syscall() {
  frame_ = GuestFrame{regs().rcx, FLAT_RING3_CS64, regs().r11, regs().rsp, FLAT_RING3_SS64};
  regs().rip = frame_.rip;
  regs().rflags = frame_.rflags;
  if (!kernel_mode_) return hv::deliver_syscall(*this);
  domain_.stats().hypercalls.fetch_add(1, std::memory_order_relaxed);
  regs().rax = static_cast<uint64_t>(hv::dispatch_hypercall(*this));
}

void Vcpu::return_to_guest() {
  if (std::exchange(segment_reload_pending_, false)) hv::reload_data_segments(*this);
  if (domain_.ending() || !deliver_pending_event()) return;
  if (!is_canonical(frame_.rip) || !is_canonical(frame_.rsp) || (frame_.cs & 3) != 3 ||
      (frame_.ss & 3) != 3)
    return crash("invalid return context: rip " + to_hex(frame_.rip) + " rsp " +
                 to_hex(frame_.rsp));
  regs().rsp = domain_.monitor().stack_top_va(id_);
  auto slot = push_on_monitor_stack(kIretFrameQwords);
  slot[0] = frame_.rip;
  slot[1] = frame_.cs;
  slot[2] = sanitize_rflags(frame_.rflags);
  slot[3] = frame_.rsp;
  slot[4] = frame_.ss;
  regs().rip = monitor::Monitor::return_to_guest_va();
  regs().rflags = rflags::kFixed;
  touch_written_entries();
  load_root_on_return();
  fd_.mark_regs_dirty();
}

// The touch stub pops each entry's address, then the guest's rdi and rcx,
// off the monitor stack below the iretq frame (monitor/entry.S).
// Reserves `qwords` on the monitor stack below rsp, for a stub to pop on
// its way back to the guest.
std::span<uint64_t> Vcpu::push_on_monitor_stack(size_t qwords) {
  uint64_t va = regs().rsp - qwords * sizeof(uint64_t);
  auto slot = domain_.monitor().stack_slice(id_, va, qwords);
  if (slot.empty()) throw Error("monitor stack overflow on the way back to the guest");
  regs().rsp = va;
  return slot;
}

void Vcpu::touch_written_entries() {
  // A vCPU given its context from another thread (the builder,
  // VCPUOP_initialise) may not run for long: the touches stay for the
  // vCPU that returns to the guest next, the caller.
  if (current() != this) return;
  std::vector<uint64_t> touches = domain_.take_entry_touches();
  if (touches.empty()) return;
  size_t n = touches.size();
  auto list = push_on_monitor_stack(n + 2);
  std::copy(touches.begin(), touches.end(), list.begin());
  list[n] = regs().rdi;
  list[n + 1] = regs().rcx;
  regs().rcx = n;
  regs().rip = monitor::Monitor::touch_and_return_va();
}

void Vcpu::touch_written_entries_now() {
  std::vector<uint64_t> touches = domain_.take_entry_touches();
  if (touches.empty()) return;
  const kvm_regs guest = regs();
  regs().rsp = domain_.monitor().stack_top_va(id_);
  auto list = push_on_monitor_stack(touches.size());
  std::copy(touches.begin(), touches.end(), list.begin());
  regs().rcx = touches.size();
  regs().rip = monitor::Monitor::touch_and_exit_va();
  regs().rflags = rflags::kFixed;
  fd_.mark_regs_dirty();
  {
    RunGate::Running running(domain_.run_gate());  // no resync meanwhile
    while (!fd_.run()) {                           // a kick: the stub goes on where it was
    }
  }
  const kvm_run& r = fd_.run_state();
  if (r.exit_reason != KVM_EXIT_IO || regs().rip != monitor::Monitor::touch_and_exit_done_rip())
    throw Error("page-table touch stub ended with exit " + std::to_string(r.exit_reason) + " at " +
                to_hex(regs().rip));
  regs() = guest;
  fd_.mark_regs_dirty();
}

// A root change or TLB flush this vCPU asked for rides on the way back:
// the stub loads CR3 from rax, then pops the guest's rax.
void Vcpu::load_root_on_return() {
  if (tlb_flush_pending_.exchange(false)) root_reload_pending_ = true;
  if (!root_reload_pending_) return;
  root_reload_pending_ = false;
  bool touching = regs().rip == monitor::Monitor::touch_and_return_va();
  push_on_monitor_stack(1)[0] = regs().rax;
  regs().rax = current_root_mfn() << 12;
  regs().rip = monitor::Monitor::load_root_and_return_va(touching, gs_swap_needed());
}

// The hardware holds the current mode's GS base in GS_BASE and the other
// mode's in KERNEL_GS_BASE, ready for the swapgs of the next mode switch.
// (A guest that loads %gs itself changes the hardware's copy of its
// current base, as on Xen; the swap carries that along.)
bool Vcpu::gs_swap_needed() {
  if (hw_gs_is_kernel_ == kernel_mode_) return false;
  hw_gs_is_kernel_ = kernel_mode_;
  return true;
}

void Vcpu::write_gs_msrs(bool kernel_in_gs_base) {
  hw_gs_is_kernel_ = kernel_in_gs_base;
  fd_.set_msr(msr::kGsBase, kernel_in_gs_base ? gs_base_kernel_ : gs_base_user_);
  fd_.set_msr(msr::kKernelGsBase, kernel_in_gs_base ? gs_base_user_ : gs_base_kernel_);
}

// Through the page tables of the mode the vCPU is in, as the guest itself
// would see its memory.
mm::GuestVirtualMemory Vcpu::guest_memory() const {
  return mm::GuestVirtualMemory(domain_.ram(), current_root_mfn());
}

mm::GuestVirtualMemory Vcpu::kernel_memory() const {
  return mm::GuestVirtualMemory(domain_.ram(), kernel_root_mfn_.load());
}

// Reloading CR3 drops every non-global translation, and xpv never lets a
// guest mapping be global (mm/page_types.cpp).
// A flush another vCPU asked for while this one may be anywhere in guest
// code: only KVM_SET_SREGS can reload CR3 then.
void Vcpu::flush_tlb_if_requested() {
  if (!tlb_flush_pending_.exchange(false)) return;
  kvm_sregs s = fd_.get_sregs();
  s.cr3 = current_root_mfn() << 12;
  fd_.set_sregs(s);
}

void Vcpu::flush_tlb_and_wait() {
  request_tlb_flush();
  if (!in_guest_.load()) return;  // it flushes before it enters the guest again
  uint64_t exits = guest_exits_.load();
  kick();
  while (in_guest_.load() && guest_exits_.load() == exits && !domain_.ending())
    std::this_thread::yield();
}

void Vcpu::set_kernel_root(uint64_t mfn) {
  kernel_root_mfn_ = mfn;
  if (kernel_mode_) root_reload_pending_ = true;
}

// Loading CR3 also drops the other mode's translations: no guest mapping
// is global, so kernel pages never stay reachable from user mode.
void Vcpu::enter_mode(bool kernel) {
  kernel_mode_ = kernel;
  root_reload_pending_ = true;  // with a swapgs (gs_swap_needed)
}

// Each base goes to the MSR that holds it now; a mode switch on its way
// back to the guest may still swap the two. Always written: the guest's
// own loads of %gs change the hardware's copy behind xpv's back.
void Vcpu::set_kernel_gs_base(uint64_t base) {
  gs_base_kernel_ = base;
  fd_.set_msr(hw_gs_is_kernel_ ? msr::kGsBase : msr::kKernelGsBase, base);
}

void Vcpu::set_user_gs_base(uint64_t base) {
  gs_base_user_ = base;
  fd_.set_msr(hw_gs_is_kernel_ ? msr::kKernelGsBase : msr::kGsBase, base);
}

void Vcpu::set_fs_base(uint64_t base) {
  fs_base_ = base;
  fd_.set_msr(msr::kFsBase, base);
}

void Vcpu::note_hypercall(std::string line) {
  if (recent_hypercalls_.size() == kRecentHypercalls) recent_hypercalls_.pop_front();
  recent_hypercalls_.push_back(std::move(line));
}

void Vcpu::crash(const std::string& reason, DomainEnd how) {
  CrashContext ctx;
  ctx.reason = reason;
  ctx.vcpu = id_;
  ctx.guest_kernel_mode = kernel_mode_;
  ctx.regs = regs();
  try {
    ctx.sregs = fd_.get_sregs();
  } catch (const std::exception&) {
    // The report goes out without system registers.
  }
  ctx.sregs.cs.selector = static_cast<uint16_t>(frame_.cs);
  ctx.sregs.ss.selector = static_cast<uint16_t>(frame_.ss);
  auto memory = guest_memory();
  constexpr size_t kCodeBefore = 16, kCodeAfter = 32;
  ctx.code.resize(kCodeBefore + kCodeAfter);
  ctx.code_va = ctx.regs.rip - kCodeBefore;
  if (!memory.copy_from(ctx.code_va, ctx.code)) {
    ctx.code.resize(kCodeAfter);
    ctx.code_va = ctx.regs.rip;
    if (!memory.copy_from(ctx.code_va, ctx.code)) ctx.code.clear();
  }
  ctx.stack.resize(32);
  ctx.stack_va = ctx.regs.rsp & ~7ULL;
  if (!memory.copy_from(ctx.stack_va, std::span(reinterpret_cast<uint8_t*>(ctx.stack.data()),
                                                ctx.stack.size() * 8)))
    ctx.stack.clear();
  ctx.last_hypercalls.assign(recent_hypercalls_.begin(), recent_hypercalls_.end());
  std::fputs(format_crash_report(ctx).c_str(), stderr);
  domain_.end(how, reason);
}

}  // namespace xpv::vmm
