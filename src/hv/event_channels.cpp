#include "hv/event_channels.hpp"

#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr long kInvalid = xen::error(XEN_EINVAL);
constexpr unsigned kBitsPerWord = sizeof(xen_ulong_t) * 8;

bool test_and_set(xen_ulong_t* words, unsigned bit) {
  xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
  return (__atomic_fetch_or(&words[bit / kBitsPerWord], m, __ATOMIC_SEQ_CST) & m) != 0;
}
bool test_and_clear(xen_ulong_t* words, unsigned bit) {
  xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
  return (__atomic_fetch_and(&words[bit / kBitsPerWord], ~m, __ATOMIC_SEQ_CST) & m) != 0;
}
bool test(const xen_ulong_t* words, unsigned bit) {
  xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
  return (__atomic_load_n(&words[bit / kBitsPerWord], __ATOMIC_SEQ_CST) & m) != 0;
}

// VIRQs of the whole domain rather than of one vCPU ("G." in xen.h).
bool virq_is_global(uint32_t virq) {
  switch (virq) {
    case VIRQ_TIMER:
    case VIRQ_DEBUG:
    case VIRQ_XENOPROF:
    case VIRQ_XENPMU:
      return false;
    default:
      return true;
  }
}

}  // namespace

EventChannels::EventChannels(vmm::Domain& domain)
    : domain_(domain), ports_(64), virq_ports_(domain.nr_vcpus()) {
  for (auto& v : virq_ports_)
    v.fill(0);
}

// Stores `fresh` at the lowest closed port (port 0 is never used), growing
// the table up to the 2-level limit; the port, or -ENOSPC.
long EventChannels::open_port(Port fresh) {
  evtchn_port_t port = 1;
  while (port < ports_.size() && ports_[port].state != State::kClosed)
    ++port;
  if (port == ports_.size()) {
    if (ports_.size() >= kMaxPorts) return xen::error(XEN_ENOSPC);
    ports_.resize(std::min<size_t>(ports_.size() * 2, kMaxPorts));
  }
  ports_[port] = std::move(fresh);
  return port;
}

long EventChannels::alloc_unbound(domid_t remote) {
  std::lock_guard lock(mutex_);
  Port p;
  p.state = State::kUnbound;
  p.remote_domain = remote == DOMID_SELF ? domain_.id() : remote;
  return open_port(std::move(p));
}

// Within one domain only: the other end must be an unbound port of this
// domain offered to it.
long EventChannels::bind_interdomain(domid_t remote, evtchn_port_t remote_port) {
  std::lock_guard lock(mutex_);
  if (!domain_.is_self(remote)) return xen::error(XEN_ESRCH);
  if (!valid(remote_port)) return kInvalid;
  const Port& peer = ports_[remote_port];
  if (peer.state != State::kUnbound || peer.remote_domain != domain_.id() || peer.host_peer)
    return kInvalid;
  Port p;
  p.state = State::kInterdomain;
  p.remote_domain = domain_.id();
  p.remote_port = remote_port;
  long port = open_port(std::move(p));
  if (port < 0) return port;
  auto local = static_cast<evtchn_port_t>(port);
  Port& other = ports_[remote_port];  // open_port may have grown the table
  other.state = State::kInterdomain;
  other.remote_port = local;
  set_pending(local);  // Xen notifies the binder's end at once
  return port;
}

long EventChannels::bind_virq(uint32_t virq, unsigned vcpu) {
  std::lock_guard lock(mutex_);
  if (virq >= NR_VIRQS) return kInvalid;
  if (vcpu >= domain_.nr_vcpus()) return xen::error(XEN_ENOENT);
  if (virq_is_global(virq) && vcpu != 0) return kInvalid;
  if (virq_ports_[vcpu][virq] != 0) return xen::error(XEN_EEXIST);
  Port p;
  p.state = State::kVirq;
  p.vcpu = vcpu;
  p.virq = virq;
  long port = open_port(std::move(p));
  if (port > 0) virq_ports_[vcpu][virq] = static_cast<evtchn_port_t>(port);
  return port;
}

long EventChannels::bind_ipi(unsigned vcpu) {
  std::lock_guard lock(mutex_);
  if (vcpu >= domain_.nr_vcpus()) return xen::error(XEN_ENOENT);
  Port p;
  p.state = State::kIpi;
  p.vcpu = vcpu;
  return open_port(std::move(p));
}

long EventChannels::close(evtchn_port_t port) {
  std::lock_guard lock(mutex_);
  if (port == 0 || !valid(port) || ports_[port].state == State::kClosed) return kInvalid;
  Port& p = ports_[port];
  if (p.state == State::kVirq) virq_ports_[p.vcpu][p.virq] = 0;
  if (p.state == State::kInterdomain && !p.host_peer && valid(p.remote_port)) {
    Port& peer = ports_[p.remote_port];  // its end waits for a new partner
    peer.state = State::kUnbound;
    peer.remote_domain = domain_.id();
  }
  p = Port{};
  test_and_clear(domain_.shared_info().evtchn_pending, port);
  return 0;
}

long EventChannels::send(evtchn_port_t port) {
  std::function<void()> host_peer;
  {
    std::lock_guard lock(mutex_);
    if (!valid(port)) return kInvalid;
    Port& p = ports_[port];
    switch (p.state) {
      case State::kInterdomain:
        if (p.host_peer)
          host_peer = p.host_peer;
        else
          set_pending(p.remote_port);
        break;
      case State::kIpi:
        set_pending(port);
        break;
      case State::kUnbound:
        break;  // nobody listens yet: dropped, as in Xen
      default:
        return kInvalid;
    }
  }
  if (host_peer) host_peer();  // outside the lock: a backend may notify back
  return 0;
}

long EventChannels::unmask(evtchn_port_t port) {
  std::lock_guard lock(mutex_);
  if (!valid(port)) return kInvalid;
  shared_info_t& si = domain_.shared_info();
  // A notification held while masked is delivered now.
  if (test_and_clear(si.evtchn_mask, port) && test(si.evtchn_pending, port)) {
    vmm::Vcpu& v = domain_.vcpu(ports_[port].vcpu);
    if (!test_and_set(&v.vcpu_info().evtchn_pending_sel, port / kBitsPerWord)) {
      __atomic_store_n(&v.vcpu_info().evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
      v.notify_event();
    }
  }
  return 0;
}

long EventChannels::bind_vcpu(evtchn_port_t port, unsigned vcpu) {
  std::lock_guard lock(mutex_);
  if (vcpu >= domain_.nr_vcpus()) return xen::error(XEN_ENOENT);
  if (!valid(port)) return kInvalid;
  Port& p = ports_[port];
  switch (p.state) {
    case State::kVirq:
      if (!virq_is_global(p.virq)) return kInvalid;
      p.vcpu = vcpu;
      return 0;
    case State::kUnbound:
    case State::kInterdomain:
      p.vcpu = vcpu;
      return 0;
    default:
      return kInvalid;
  }
}

long EventChannels::status(evtchn_port_t port, evtchn_status_t& out) {
  std::lock_guard lock(mutex_);
  if (!valid(port)) return kInvalid;
  const Port& p = ports_[port];
  out.vcpu = p.vcpu;
  switch (p.state) {
    case State::kClosed:
      out.status = EVTCHNSTAT_closed;
      break;
    case State::kUnbound:
      out.status = EVTCHNSTAT_unbound;
      out.u.unbound.dom = p.remote_domain;
      break;
    case State::kInterdomain:
      out.status = EVTCHNSTAT_interdomain;
      out.u.interdomain.dom = p.remote_domain;
      out.u.interdomain.port = p.remote_port;
      break;
    case State::kVirq:
      out.status = EVTCHNSTAT_virq;
      out.u.virq = p.virq;
      break;
    case State::kIpi:
      out.status = EVTCHNSTAT_ipi;
      break;
  }
  return 0;
}

// Closes every port the guest bound; ports served by xpv's backends stay
// connected (in Xen the toolstack would re-establish them).
void EventChannels::reset() {
  std::vector<evtchn_port_t> to_close;
  {
    std::lock_guard lock(mutex_);
    for (evtchn_port_t p = 1; p < ports_.size(); ++p)
      if (ports_[p].state != State::kClosed && !ports_[p].host_peer) to_close.push_back(p);
  }
  for (evtchn_port_t p : to_close)
    close(p);
}

long EventChannels::connect_host_peer(evtchn_port_t port, std::function<void()> on_send) {
  std::lock_guard lock(mutex_);
  if (!valid(port) || ports_[port].state != State::kUnbound || ports_[port].remote_domain != 0)
    return kInvalid;
  Port& p = ports_[port];
  p.state = State::kInterdomain;
  p.host_peer = std::move(on_send);
  return 0;
}

void EventChannels::notify(evtchn_port_t port) {
  std::lock_guard lock(mutex_);
  if (valid(port) && ports_[port].state == State::kInterdomain) set_pending(port);
}

void EventChannels::raise_virq(unsigned vcpu, uint32_t virq) {
  std::lock_guard lock(mutex_);
  if (vcpu >= virq_ports_.size() || virq >= NR_VIRQS) return;
  if (evtchn_port_t port = virq_ports_[vcpu][virq]; port != 0) set_pending(port);
}

bool EventChannels::pending(evtchn_port_t port) {
  return port < kMaxPorts && test(domain_.shared_info().evtchn_pending, port);
}

// 2-level delivery: pending bit, then (unless masked) the selector word
// and upcall_pending in the notified vCPU's vcpu_info, then a kick.
void EventChannels::set_pending(evtchn_port_t port) {
  shared_info_t& si = domain_.shared_info();
  if (test_and_set(si.evtchn_pending, port)) return;
  // Pollers look at their ports whether or not this one is masked
  // (Xen's evtchn_check_pollers).
  for (unsigned i = 0; i < domain_.nr_vcpus(); ++i)
    domain_.vcpu(i).wake_if_polling();
  if (test(si.evtchn_mask, port)) return;  // held until unmasked
  vmm::Vcpu& v = domain_.vcpu(ports_[port].vcpu);
  if (test_and_set(&v.vcpu_info().evtchn_pending_sel, port / kBitsPerWord)) return;
  __atomic_store_n(&v.vcpu_info().evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
  v.notify_event();
}

}  // namespace xpv::hv
