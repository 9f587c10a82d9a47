// A running Xen PV domain: its KVM VM, memory, monitor, vCPUs and the
// hypervisor state Xen keeps per domain.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "hv/event_channels.hpp"
#include "hv/grant_table.hpp"
#include "hv/pv_clock.hpp"
#include "hv/unimplemented.hpp"
#include "hv/vcpu_timers.hpp"
#include "kvm/kvm_system.hpp"
#include "kvm/vm.hpp"
#include "mm/guest_ram.hpp"
#include "mm/page_types.hpp"
#include "monitor/monitor.hpp"
#include "vmm/console.hpp"
#include "vmm/console_service.hpp"
#include "vmm/domain_config.hpp"
#include "vmm/run_gate.hpp"
#include "vmm/shutdown.hpp"
#include "vmm/xenstore_service.hpp"
#include "xen/abi.hpp"

namespace xpv::vmm {

class Vcpu;

// Counters a user can read (`xpv run --stats`).
struct DomainStats {
  std::atomic<uint64_t> exits{0};
  std::atomic<uint64_t> hypercalls{0};
  std::atomic<uint64_t> entry_touches{0};   // page-table entries stored to from ring 0
  std::atomic<uint64_t> shadow_resyncs{0};  // times every shadow page table was dropped
  std::atomic<std::chrono::steady_clock::time_point> first_entry{};
};

class Domain {
 public:
  // Creates the VM, its memory, monitor and vCPUs; the domain builder then
  // loads a kernel into it before start().
  Domain(const kvm::KvmSystem& kvm, const DomainConfig& config);
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;
  ~Domain();

  const DomainConfig& config() const { return config_; }
  domid_t id() const { return 1; }  // xpv runs one domU per process for now
  // Whether a hypercall's domain argument names this domain.
  bool is_self(domid_t domid) const { return domid == DOMID_SELF || domid == id(); }
  const std::array<uint8_t, 16>& handle() const { return handle_; }
  const kvm::KvmSystem& kvm() const { return vm_.system(); }

  mm::GuestRam& ram() { return *ram_; }
  const mm::GuestRam& ram() const { return *ram_; }
  monitor::Monitor& monitor() { return *monitor_; }
  monitor::HypervisorFrames& hypervisor_frames() { return *hypervisor_frames_; }
  shared_info_t& shared_info() { return *shared_info_; }
  uint64_t shared_info_mfn() const { return shared_info_mfn_; }
  Console& console() { return console_; }
  mm::PageTypes& page_types() { return *page_types_; }
  hv::EventChannels& event_channels() { return *event_channels_; }
  hv::GrantTable& grant_table() { return *grant_table_; }
  const hv::PvClock& clock() const { return *clock_; }
  // The PV console, once the builder has attached its page.
  void attach_console(uint64_t mfn, evtchn_port_t port);
  // KVM's shadow MMU caches translations made from guest page tables and
  // learns of changes only from stores the vCPU makes. After xpv wrote an
  // entry itself, the next vCPU to return to the guest stores to it again
  // from ring 0 (take_entry_touches); when too many entries await that, or
  // after a change to the monitor's own tables, every cache is dropped
  // instead before any vCPU runs again.
  void note_table_write(uint64_t table_mfn, unsigned index);
  // Before a frame becomes one the guest must not write (PageTypes).
  void drop_stale_translations_now();
  void mark_page_tables_written() { page_tables_written_.store(true); }
  void resync_shadow_page_tables();
  // Every vCPU enters KVM_RUN through it, so that the resync can happen
  // with none of them running.
  RunGate& run_gate() { return run_gate_; }
  // The direct-map addresses of the entries to touch; empty when the
  // coming resync drops every cache anyway.
  std::vector<uint64_t> take_entry_touches();
  static constexpr size_t kMaxEntryTouches = 256;
  ConsoleService* console_service() { return console_service_.get(); }
  void attach_xenstore(uint64_t mfn, evtchn_port_t port);
  XenstoreService* xenstore() { return xenstore_.get(); }
  hv::VcpuTimers& timers() { return *timers_; }
  hv::UnimplementedLog& unimplemented() { return unimplemented_; }

  unsigned nr_vcpus() const { return static_cast<unsigned>(vcpus_.size()); }
  Vcpu& vcpu(unsigned index) { return *vcpus_.at(index); }

  DomainStats& stats() { return stats_; }
  const DomainStats& stats() const { return stats_; }

  // Memory accounting (XENMEM_current/maximum_reservation): the frames
  // the domain owns now, and the most it may own.
  uint64_t nr_pages() const { return page_types_->tot_pages(); }
  uint64_t max_pages() const { return page_types_->max_pages(); }

  // Xen's VMASST_TYPE_* bits (vm_assist hypercall).
  std::atomic<uint64_t>& vm_assist() { return vm_assist_; }

  // Xen's domain_lock: held while a hypercall changes which vCPUs have a
  // context and run (VCPUOP_initialise, VCPUOP_up). Page types, event
  // channels and timers have locks of their own.
  std::mutex& lock() { return lock_; }

  // Starts the vCPU threads: vCPU 0 runs, the others wait to be brought up.
  void start();
  // Ends the domain (first caller's reason wins) and stops every vCPU.
  void end(DomainEnd how, const std::string& why);
  DomainEnd end_state() const { return end_.load(); }
  bool ending() const { return end_.load() != DomainEnd::kRunning; }
  const std::string& end_reason() const { return end_reason_; }
  // Readable (poll) once the domain has ended.
  int end_event_fd() const { return end_event_.get(); }
  // Waits for every vCPU thread to finish.
  void join();

 private:
  void start_clock();
  void hold_for_backend(uint64_t mfn);

  DomainConfig config_;
  std::array<uint8_t, 16> handle_{};
  kvm::Vm vm_;
  std::unique_ptr<kvm::MemoryRegion> ram_region_;
  std::unique_ptr<kvm::MemoryRegion> hypervisor_region_;
  std::unique_ptr<mm::GuestRam> ram_;
  std::unique_ptr<monitor::HypervisorFrames> hypervisor_frames_;
  std::unique_ptr<monitor::Monitor> monitor_;
  std::unique_ptr<mm::PageTypes> page_types_;
  std::unique_ptr<hv::GrantTable> grant_table_;
  shared_info_t* shared_info_ = nullptr;
  uint64_t shared_info_mfn_ = 0;
  Console console_;
  hv::UnimplementedLog unimplemented_;
  std::atomic<uint64_t> vm_assist_{0};
  std::mutex lock_;
  std::atomic<bool> page_tables_written_{false};
  RunGate run_gate_;
  std::mutex touches_mutex_;
  std::vector<uint64_t> entry_touches_;
  std::atomic<bool> have_entry_touches_{false};
  DomainStats stats_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::unique_ptr<hv::EventChannels> event_channels_;
  std::unique_ptr<hv::PvClock> clock_;
  std::unique_ptr<hv::VcpuTimers> timers_;  // after vcpus_: stopped before they go
  std::unique_ptr<ConsoleService> console_service_;
  std::unique_ptr<XenstoreService> xenstore_;

  std::atomic<DomainEnd> end_{DomainEnd::kRunning};
  std::mutex end_mutex_;
  std::string end_reason_;
  UniqueFd end_event_;
};

}  // namespace xpv::vmm
