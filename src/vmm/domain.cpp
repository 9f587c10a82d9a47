#include "vmm/domain.hpp"

#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <random>

#include "hv/memory_reservation.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::vmm {

namespace {

constexpr uint32_t kRamSlot = 0;
constexpr uint32_t kHypervisorSlot = 1;

// Room for the monitor (text, IDT, per-vCPU GDT/TSS/stack, page tables),
// shared_info, and the M2P with its page tables.
uint64_t hypervisor_region_bytes(uint64_t m2p_entries) {
  uint64_t m2p_bytes = m2p_entries * sizeof(uint64_t);
  return (8ULL << 20) + 2 * m2p_bytes;
}

std::array<uint8_t, 16> random_handle() {
  std::random_device rd;
  std::array<uint8_t, 16> h{};
  for (auto& b : h)
    b = static_cast<uint8_t>(rd());
  h[6] = static_cast<uint8_t>((h[6] & 0x0f) | 0x40);  // an RFC 4122 version-4 UUID
  h[8] = static_cast<uint8_t>((h[8] & 0x3f) | 0x80);
  return h;
}

// vCPU threads are kicked out of KVM_RUN with SIGUSR1; the handler exists
// only so that the signal interrupts the ioctl.
void install_kick_handler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
}

}  // namespace

Domain::Domain(const kvm::KvmSystem& kvm, const DomainConfig& config)
    : config_(config), handle_(random_handle()), vm_(kvm) {
  if (config.memory_mib < 4 || config.memory_mib > (monitor::kMaxGuestRamBytes >> 20))
    throw Error("--memory must be between 4 and " +
                std::to_string(monitor::kMaxGuestRamBytes >> 20) + " MiB");
  if (config.vcpus < 1 || config.vcpus > monitor::kMaxVcpus)
    throw Error("--vcpus must be between 1 and " + std::to_string(monitor::kMaxVcpus));

  ram_region_ = std::make_unique<kvm::MemoryRegion>("xpv-guest-ram", config.memory_mib << 20);
  ram_ = std::make_unique<mm::GuestRam>(*ram_region_, monitor::kRamBaseMfn);
  vm_.map_memory(kRamSlot, monitor::kRamBaseMfn << 12, *ram_region_);

  uint64_t m2p_entries = ram_->end_mfn();
  hypervisor_region_ =
      std::make_unique<kvm::MemoryRegion>("xpv-hypervisor", hypervisor_region_bytes(m2p_entries));
  vm_.map_memory(kHypervisorSlot, monitor::kHypervisorBaseMfn << 12, *hypervisor_region_);
  hypervisor_frames_ =
      std::make_unique<monitor::HypervisorFrames>(*hypervisor_region_, monitor::kHypervisorBaseMfn);
  monitor_ = std::make_unique<monitor::Monitor>(*hypervisor_frames_, config.vcpus, m2p_entries);

  monitor::Frame si = hypervisor_frames_->allocate();
  shared_info_ = reinterpret_cast<shared_info_t*>(si.bytes.data());
  shared_info_mfn_ = si.mfn;
  // Events start masked on every vCPU (libxc shared_info_x86_64).
  for (auto& vi : shared_info_->vcpu_info)
    vi.evtchn_upcall_mask = 1;

  // Frames outside RAM the guest may map: shared_info and the frames of
  // its grant table that setup_table has handed out.
  page_types_ = std::make_unique<mm::PageTypes>(
      *ram_,
      [this](uint64_t mfn) {
        return mfn == shared_info_mfn_ || (grant_table_ && grant_table_->is_table_frame(mfn));
      },
      [this](uint64_t* l4) { monitor_->install_hole_entries(std::span<uint64_t, 512>(l4, 512)); });
  grant_table_ = std::make_unique<hv::GrantTable>(
      *ram_, *page_types_, [this] { return hypervisor_frames_->allocate(); });

  page_types_->set_table_written_hook(
      [this](uint64_t table_mfn, unsigned index) { note_table_write(table_mfn, index); });
  page_types_->set_write_protect_hook([this](uint64_t) { drop_stale_translations_now(); });
  page_types_->set_hypervisor_frames(
      [this](uint64_t mfn) { return hypervisor_frames_->contains(mfn); });
  // A frame the domain gave back leaves it: no translation of it survives
  // (the last entry that mapped it was a table write; another vCPU may
  // still run on it, so that goes first, as Xen flushes TLBs before a freed
  // page is used again), then no M2P entry and no contents.
  page_types_->set_frame_freed_hook([this](uint64_t mfn) {
    drop_stale_translations_now();
    monitor_->m2p()[mfn] = hv::kInvalidM2pEntry;
    ram_->discard(mfn);
  });

  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) throw SystemError("eventfd", errno);
  end_event_.reset(efd);

  install_kick_handler();
  for (unsigned i = 0; i < config.vcpus; ++i)
    vcpus_.push_back(std::make_unique<Vcpu>(*this, vm_, i));
  event_channels_ = std::make_unique<hv::EventChannels>(*this);
  start_clock();
}

Domain::~Domain() {
  end(DomainEnd::kDestroyed, "domain torn down");
  join();
}

// System time starts now; every vCPU sees it from its first instruction
// (Linux reads time early, from vcpu_info[0] in shared_info).
void Domain::start_clock() {
  kvm::VcpuFd& fd = vcpus_.front()->kvm_vcpu();
  int khz = ::ioctl(fd.fd(), KVM_GET_TSC_KHZ, 0);
  if (khz <= 0) throw SystemError("KVM_GET_TSC_KHZ", errno);
  constexpr uint32_t kMsrTsc = 0x10;
  auto offset = static_cast<int64_t>(fd.get_msr(kMsrTsc) - __rdtsc());
  clock_ = std::make_unique<hv::PvClock>(static_cast<uint64_t>(khz), offset);
  for (auto& vi : shared_info_->vcpu_info)
    clock_->publish(vi.time);
  clock_->publish_wallclock(*shared_info_);
  timers_ = std::make_unique<hv::VcpuTimers>(*this, *clock_, config_.vcpus);
}

// Re-registering the memory slots makes KVM drop every shadow page built
// from them (there is no narrower way to tell it that host code wrote a
// guest page table). The contents of memory are untouched.
void Domain::note_table_write(uint64_t table_mfn, unsigned index) {
  std::lock_guard lock(touches_mutex_);
  if (entry_touches_.size() == kMaxEntryTouches) {
    mark_page_tables_written();
    return;
  }
  entry_touches_.push_back(monitor::direct_map_va((table_mfn << 12) + index * sizeof(uint64_t)));
  have_entry_touches_.store(true);
}

// With one vCPU, that vCPU is in xpv now and drops stale translations on
// its way back, before it runs guest code. With more, another one may be
// running on them: they go now, from this vCPU's ring 0, or all at once.
void Domain::drop_stale_translations_now() {
  if (nr_vcpus() < 2) return;
  Vcpu* current = Vcpu::current();
  if (current == nullptr && have_entry_touches_.load()) mark_page_tables_written();
  if (page_tables_written_.load()) {
    resync_shadow_page_tables();
    return;
  }
  if (current != nullptr) current->touch_written_entries_now();
}

std::vector<uint64_t> Domain::take_entry_touches() {
  if (!have_entry_touches_.load()) return {};  // every return to the guest asks
  std::vector<uint64_t> touches;
  {
    std::lock_guard lock(touches_mutex_);
    touches.swap(entry_touches_);
    have_entry_touches_.store(false);
  }
  if (page_tables_written_.load()) return {};
  std::sort(touches.begin(), touches.end());
  touches.erase(std::unique(touches.begin(), touches.end()), touches.end());
  stats_.entry_touches.fetch_add(touches.size(), std::memory_order_relaxed);
  return touches;
}

// No vCPU may run while the slots are re-registered: for a moment there
// is no memory, and a vCPU in KVM_RUN would fault on its GDT, IDT or stack
// and shut down (RunGate; docs/smp.md).
void Domain::resync_shadow_page_tables() {
  if (!page_tables_written_.load()) return;  // every KVM_RUN asks: no lock when clean
  run_gate_.stop_world(
      [this] {
        for (auto& v : vcpus_)  // one not in the guest yet waits at the gate
          if (v->in_guest()) v->kick();
      },
      [this] {
        if (!page_tables_written_.exchange(false)) return;
        stats_.shadow_resyncs.fetch_add(1, std::memory_order_relaxed);
        vm_.unmap_memory(kRamSlot, monitor::kRamBaseMfn << 12);
        vm_.map_memory(kRamSlot, monitor::kRamBaseMfn << 12, *ram_region_);
        vm_.unmap_memory(kHypervisorSlot, monitor::kHypervisorBaseMfn << 12);
        vm_.map_memory(kHypervisorSlot, monitor::kHypervisorBaseMfn << 12, *hypervisor_region_);
      });
}

void Domain::attach_xenstore(uint64_t mfn, evtchn_port_t port) {
  hold_for_backend(mfn);
  xenstore_ = std::make_unique<XenstoreService>(*this, mfn, port);
}

void Domain::attach_console(uint64_t mfn, evtchn_port_t port) {
  hold_for_backend(mfn);
  console_service_ = std::make_unique<ConsoleService>(*this, mfn, port);
}

// A backend maps its ring page writable for the domain's life, as
// xenconsoled and xenstored do with a foreign mapping, which holds a
// writable type reference in Xen: the frame stays the domain's even if
// the guest gives it back (it cannot be freed under the backend's writes)
// and it can never become a page table.
void Domain::hold_for_backend(uint64_t mfn) {
  if (page_types_->get_type(mfn, mm::PageType::kWritable) != 0)
    throw Error("ring page " + std::to_string(mfn) + " cannot be mapped by its backend");
}

void Domain::start() {
  timers_->start();
  for (auto& v : vcpus_)
    v->start_thread();
  vcpus_.front()->bring_online();
}

void Domain::end(DomainEnd how, const std::string& why) {
  {
    std::lock_guard lock(end_mutex_);
    if (end_.load() != DomainEnd::kRunning) return;
    end_reason_ = why;
    end_.store(how);
  }
  for (auto& v : vcpus_)
    v->kick();
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(end_event_.get(), &one, sizeof one);
}

void Domain::join() {
  for (auto& v : vcpus_)
    v->join_thread();
  if (timers_) timers_->stop();
}

}  // namespace xpv::vmm
