// A PV vCPU: a KVM vCPU running guest code at CPL3 under the monitor, plus
// the per-vCPU state Xen keeps for a PV guest (mode, trap table, segment
// bases, page-table roots). One host thread runs each.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hv/emulated_cpu_state.hpp"
#include "hv/hypercall.hpp"
#include "hv/runstate.hpp"
#include "kvm/vcpu_fd.hpp"
#include "mm/guest_virtual_memory.hpp"
#include "vmm/shutdown.hpp"
#include "xen/abi.hpp"

namespace xpv::vmm {

class Domain;

// The guest's interrupted context as the monitor entry found it; written
// back as an iretq frame when the vCPU returns to the guest.
struct GuestFrame {
  uint64_t rip = 0;
  uint64_t cs = 0;
  uint64_t rflags = 0;
  uint64_t rsp = 0;
  uint64_t ss = 0;
};

// A guest entry point registered with callback_op (xen/callback.h).
struct Callback {
  uint64_t address = 0;
  bool mask_events = false;  // CALLBACKF_mask_events
};

// The guest's LDT (MMUEXT_SET_LDT): where the guest put it, how many
// descriptors, and its frames (0 where a page could not be typed).
struct Ldt {
  uint64_t base = 0;
  unsigned entries = 0;
  std::vector<uint64_t> frames;
};

class Vcpu {
 public:
  Vcpu(Domain& domain, const kvm::Vm& vm, unsigned id);
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  unsigned id() const { return id_; }
  Domain& domain() { return domain_; }

  // Initial state per the PV ABI: guest kernel mode at `entry` with `rsp`
  // and `start_info_va` in rsi, on page-table root `root_mfn`.
  void set_initial_state(uint64_t entry, uint64_t rsp, uint64_t start_info_va, uint64_t root_mfn);
  // VCPUOP_initialise (hv/vcpu_context.cpp): starts the vCPU at `frame`
  // with `gprs`, once the caller has set its roots, GDT, trap table,
  // callbacks and segment bases. Only for a vCPU that is not running.
  void start_in_context(const kvm_regs& gprs, const GuestFrame& frame, bool kernel_mode);
  // Whether the vCPU has a context (vCPU 0 from the builder, the others
  // from VCPUOP_initialise); changed under Domain::lock().
  bool initialised() const { return initialised_.load(); }
  // vCPU 0 starts online; others wait for VCPUOP_up.
  void bring_online();
  // VCPUOP_down: the vCPU stops running guest code until brought up again.
  void take_offline();
  bool online();

  // The vCPU whose thread this is; null on other threads.
  static Vcpu* current();
  // Touches the page-table entries xpv wrote (Domain::take_entry_touches)
  // at once, through a round trip into ring 0, in the middle of a
  // hypercall; the guest's registers are kept.
  void touch_written_entries_now();

  void start_thread();
  void join_thread();
  // Makes the vCPU leave KVM_RUN and look at the domain state (any thread).
  void kick();
  // An event became pending for this vCPU: wake it if it blocks, bring it
  // into the monitor if it runs guest code (any thread).
  void notify_event();
  // SCHEDOP_block: enables event delivery and waits until an event is
  // pending for this vCPU or the domain ends.
  void block();
  // SCHEDOP_poll: waits, events left masked as they are, until `woken()`
  // (checked under the vCPU's lock), an unmasked event is pending, the
  // system time `deadline_ns` (0: none) passes or the domain ends.
  void poll(const std::function<bool()>& woken, uint64_t deadline_ns);
  // A port became pending: a polling vCPU looks at its ports again (any thread).
  void wake_if_polling();

  // --- State for hypercall handlers and emulation --------------------------
  kvm_regs& regs() { return fd_.regs(); }  // guest GPRs; rip/rsp/rflags live in frame()
  GuestFrame& frame() { return frame_; }
  bool in_kernel_mode() const { return kernel_mode_; }
  mm::GuestVirtualMemory guest_memory() const;   // through the current mode's root
  mm::GuestVirtualMemory kernel_memory() const;  // through the kernel's root
  std::array<trap_info_t, 256>& trap_table() { return trap_table_; }
  // Callbacks by CALLBACKTYPE_* (event, failsafe, syscall, syscall32, sysenter, nmi).
  std::array<Callback, 8>& callbacks() { return callbacks_; }
  // The guest kernel stack used on entry from user mode (stack_switch).
  uint64_t kernel_ss = FLAT_RING3_SS64;
  uint64_t kernel_sp = 0;
  // The guest's CR0.TS (fpu_taskswitch): the next FPU use raises #NM.
  bool virtual_ts = false;
  // DR0-DR7 as the guest set them (set_debugreg); 4 and 5 unused.
  std::array<uint64_t, 8>& debug_registers() { return debug_registers_; }
  // Control registers, IOPL and MSR state the emulation keeps.
  hv::EmulatedCpuState emulated;
  // Read by every thread that raises an event for this vCPU.
  vcpu_info_t& vcpu_info() { return *vcpu_info_.load(std::memory_order_acquire); }
  // VCPUOP_register_vcpu_info: vcpu_info moves into a guest frame (host
  // view, kept valid by the caller's writable type reference).
  void move_vcpu_info(vcpu_info_t* to, uint64_t mfn) {
    vcpu_info_mfn_.store(mfn);
    vcpu_info_.store(to, std::memory_order_release);
  }
  bool vcpu_info_registered() const { return vcpu_info_mfn_.load() != 0; }
  // VCPUOP_register_runstate_memory_area (any vCPU may register another's).
  void register_runstate_area(uint64_t va);
  // VCPUOP_get_runstate_info: the times counted up to now.
  vcpu_runstate_info_t runstate_info();
  void set_hardware_ts(bool ts);
  void set_user_gs_base(uint64_t base);
  uint64_t user_root_mfn() const { return user_root_mfn_; }
  uint64_t kernel_root_mfn() const { return kernel_root_mfn_.load(); }
  // Switches the root the guest kernel runs on (MMUEXT_NEW_BASEPTR); the
  // caller holds the L4 type reference for it.
  void set_kernel_root(uint64_t mfn);
  // Xen's toggle_guest_mode: the other page-table root and GS base. Both
  // modes run at CPL3; only this software state tells them apart.
  void switch_to_user_mode() { enter_mode(false); }
  void switch_to_kernel_mode() { enter_mode(true); }
  void set_user_root(uint64_t mfn) { user_root_mfn_ = mfn; }
  // Flushes this vCPU's TLB before it next runs guest code (any thread).
  void request_tlb_flush() { tlb_flush_pending_.store(true); }
  // The same for another vCPU, which is moreover made to leave guest code
  // if it runs some: when this returns it uses no translation older than
  // the call (Xen's flush_tlb_mask waits for its IPIs likewise).
  void flush_tlb_and_wait();
  // From its TLB-flush check before KVM_RUN to KVM_RUN's return (any thread).
  bool in_guest() const { return in_guest_.load(); }
  // The guest frames of this vCPU's GDT (set_gdt), typed as descriptor pages.
  std::vector<uint64_t>& gdt_frames() { return gdt_frames_; }
  Ldt& ldt() { return ldt_; }
  // The descriptor tables changed: DS/ES/FS/GS are reloaded from them
  // before the guest runs again, with the failsafe callback if one fails.
  void request_segment_reload() { segment_reload_pending_ = true; }
  void set_kernel_gs_base(uint64_t base);
  void set_fs_base(uint64_t base);
  uint64_t fs_base() const { return fs_base_; }
  uint64_t kernel_gs_base() const { return gs_base_kernel_; }
  uint64_t user_gs_base() const { return gs_base_user_; }
  // What GS_BASE holds now: the current mode's base, or, while a mode
  // switch waits for its swapgs on the way back, the previous mode's.
  uint64_t gs_base_in_gs_msr() const { return hw_gs_is_kernel_ ? gs_base_kernel_ : gs_base_user_; }
  kvm::VcpuFd& kvm_vcpu() { return fd_; }

  // Inside a multicall, continuations go to the batch (hv/multicall.cpp).
  hv::Continuation* continuation_target() const { return continuation_target_; }
  void set_continuation_target(hv::Continuation* c) { continuation_target_ = c; }

  // Records a formatted hypercall for crash reports (last few kept).
  void note_hypercall(std::string line);
  // Crashes the domain from this vCPU with a full diagnostic report.
  // `how` is kXpvFailure when the fault is xpv's own, not the guest's.
  void crash(const std::string& reason, DomainEnd how = DomainEnd::kCrash);

 private:
  void run();
  void wait_until_online();
  void handle_exit();
  void handle_monitor_entry();
  bool capture_exception_frame(unsigned vector, uint64_t& error_code);
  // `cr2` is the faulting address for a #PF (the monitor's #PF stub reads it).
  void handle_exception(unsigned vector, uint64_t error_code, uint64_t cr2);
  uint64_t take_cr2_from_stub();

  void handle_syscall();
  void return_to_guest();
  void touch_written_entries();
  bool deliver_pending_event();
  bool event_deliverable();
  void enter_monitor_soon();

  Domain& domain_;
  unsigned id_;
  kvm::VcpuFd fd_;
  std::thread thread_;

  std::mutex online_mutex_;
  std::condition_variable online_cv_;
  bool online_ = false;
  std::atomic<bool> polling_{false};

  GuestFrame frame_;
  bool kernel_mode_ = true;
  std::atomic<bool> initialised_{false};
  std::atomic<uint64_t> kernel_root_mfn_{0};  // also read by others (runstate area)
  uint64_t fs_base_ = 0;
  uint64_t gs_base_kernel_ = 0;
  uint64_t gs_base_user_ = 0;
  std::array<trap_info_t, 256> trap_table_{};
  std::array<Callback, 8> callbacks_{};
  std::atomic<vcpu_info_t*> vcpu_info_;
  std::atomic<uint64_t> vcpu_info_mfn_{0};
  std::mutex runstate_mutex_;  // the vCPU's own thread and VCPUOP callers on others
  hv::Runstate runstate_;
  std::array<uint64_t, 8> debug_registers_{0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400};
  hv::Continuation* continuation_target_ = nullptr;
  uint64_t user_root_mfn_ = 0;
  std::deque<std::string> recent_hypercalls_;
  std::atomic<bool> tlb_flush_pending_{false};
  // Set around KVM_RUN; exits counts its returns. A vCPU that flushes
  // another waits for it to leave guest code (flush_tlb_and_wait).
  std::atomic<bool> in_guest_{false};
  std::atomic<uint64_t> guest_exits_{0};
  std::vector<uint64_t> gdt_frames_;
  Ldt ldt_;
  bool segment_reload_pending_ = false;
  void flush_tlb_if_requested();
  void change_runstate(int state);
  void publish_runstate();  // with runstate_mutex_ held
  std::span<uint64_t> push_on_monitor_stack(size_t qwords);
  void load_root_on_return();
  bool gs_swap_needed();
  void write_gs_msrs(bool kernel_in_gs_base);
  // Whether GS_BASE (not KERNEL_GS_BASE) holds the guest kernel's base.
  bool hw_gs_is_kernel_ = true;
  void enter_mode(bool kernel);
  uint64_t current_root_mfn() const {
    return kernel_mode_ ? kernel_root_mfn_.load() : user_root_mfn_;
  }
  // The root of the current mode is loaded on the way back to the guest
  // (this vCPU's thread only).
  bool root_reload_pending_ = false;
};

}  // namespace xpv::vmm
