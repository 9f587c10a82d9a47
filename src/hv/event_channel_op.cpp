// event_channel_op: the guest's view of its event channels (xen/event_channel.h).
// Each sub-op copies its argument in, acts on the domain's EventChannels,
// and copies the result out.
#include "hv/event_channels.hpp"
#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// Reads T, runs `op` on it, and writes T back when `op` succeeded and the
// sub-op returns data.
template <typename T, typename Op>
long with_argument(vmm::Vcpu& vcpu, uint64_t va, bool copy_back, Op op) {
  auto memory = vcpu.guest_memory();
  auto arg = memory.read<T>(va);
  if (!arg) return xen::error(XEN_EFAULT);
  long rc = op(*arg);
  if (rc >= 0 && copy_back && !memory.write(va, *arg)) return xen::error(XEN_EFAULT);
  return rc;
}

// A new port goes to the guest in the argument's `port` field.
template <typename T>
long port_result(T& arg, long rc) {
  if (rc < 0) return rc;
  arg.port = static_cast<evtchn_port_t>(rc);
  return 0;
}

}  // namespace

long do_event_channel_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  uint64_t va = args.arg[1];
  vmm::Domain& d = vcpu.domain();
  EventChannels& ec = d.event_channels();
  switch (cmd) {
    case EVTCHNOP_alloc_unbound:
      return with_argument<evtchn_alloc_unbound_t>(vcpu, va, true, [&](auto& a) {
        if (!d.is_self(a.dom)) return xen::error(XEN_EPERM);
        return port_result(a, ec.alloc_unbound(a.remote_dom));
      });
    case EVTCHNOP_bind_interdomain:
      return with_argument<evtchn_bind_interdomain_t>(vcpu, va, true, [&](auto& a) {
        long rc = ec.bind_interdomain(a.remote_dom, a.remote_port);
        if (rc < 0) return rc;
        a.local_port = static_cast<evtchn_port_t>(rc);
        return 0L;
      });
    case EVTCHNOP_bind_virq:
      return with_argument<evtchn_bind_virq_t>(
          vcpu, va, true, [&](auto& a) { return port_result(a, ec.bind_virq(a.virq, a.vcpu)); });
    case EVTCHNOP_bind_ipi:
      return with_argument<evtchn_bind_ipi_t>(
          vcpu, va, true, [&](auto& a) { return port_result(a, ec.bind_ipi(a.vcpu)); });
    case EVTCHNOP_close:
      return with_argument<evtchn_close_t>(vcpu, va, false,
                                           [&](auto& a) { return ec.close(a.port); });
    case EVTCHNOP_send:
      return with_argument<evtchn_send_t>(vcpu, va, false,
                                          [&](auto& a) { return ec.send(a.port); });
    case EVTCHNOP_unmask:
      return with_argument<evtchn_unmask_t>(vcpu, va, false,
                                            [&](auto& a) { return ec.unmask(a.port); });
    case EVTCHNOP_bind_vcpu:
      return with_argument<evtchn_bind_vcpu_t>(
          vcpu, va, false, [&](auto& a) { return ec.bind_vcpu(a.port, a.vcpu); });
    case EVTCHNOP_status:
      return with_argument<evtchn_status_t>(vcpu, va, true, [&](auto& a) {
        if (!d.is_self(a.dom)) return xen::error(XEN_ESRCH);
        return ec.status(a.port, a);
      });
    case EVTCHNOP_reset:
      return with_argument<evtchn_reset_t>(vcpu, va, false, [&](auto& a) {
        if (!d.is_self(a.dom)) return xen::error(XEN_ESRCH);
        ec.reset();
        return 0L;
      });
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
    case EVTCHNOP_set_priority:
      // The FIFO ABI: Linux falls back to 2-level when it is missing.
      return d.unimplemented().report(args.nr, cmd);
    default:
      return d.unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
