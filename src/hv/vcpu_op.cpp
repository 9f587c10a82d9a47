// vcpu_op: the guest's own vCPUs (xen/vcpu.h; Xen's common/domain.c
// do_vcpu_op): their first context, whether they run, where their
// vcpu_info and runstate live, and their timers.
#include "hv/handlers.hpp"
#include "hv/vcpu_context.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// Once only per vCPU: vCPU 0 has its context from the domain builder
// (default_initialise_vcpu: -EEXIST for an initialised vCPU).
long initialise(vmm::Vcpu& caller, vmm::Vcpu& target, uint64_t arg) {
  auto context = caller.guest_memory().read<vcpu_guest_context_t>(arg);
  if (!context) return xen::error(XEN_EFAULT);
  std::lock_guard lock(caller.domain().lock());
  if (target.initialised()) return xen::error(XEN_EEXIST);
  return load_vcpu_context(target, *context);
}

long vcpu_up(vmm::Vcpu& caller, vmm::Vcpu& target) {
  std::lock_guard lock(caller.domain().lock());
  if (!target.initialised()) return xen::error(XEN_EINVAL);
  target.bring_online();
  return 0;
}

long vcpu_down(vmm::Vcpu& caller, vmm::Vcpu& target) {
  vmm::Domain& d = caller.domain();
  {
    // Two vCPUs going down at once must not both see the other still up.
    std::lock_guard lock(d.lock());
    target.take_offline();
    for (unsigned i = 0; i < d.nr_vcpus(); ++i)
      if (d.vcpu(i).online()) return 0;
  }
  // No vCPU is left to bring another up: the guest has halted for good
  // (Linux does this at the end of its panic and BUG paths).
  caller.crash("every vCPU is down (VCPUOP_down): the guest halted");
  return 0;
}

// vcpu_info moves into a guest frame, which keeps a writable type for as
// long as it holds it; everything is marked pending once so nothing is
// lost in the move (Xen's map_vcpu_info).
long register_vcpu_info(vmm::Vcpu& caller, vmm::Vcpu& target, uint64_t arg) {
  auto info = caller.guest_memory().read<vcpu_register_vcpu_info_t>(arg);
  if (!info) return xen::error(XEN_EFAULT);
  vmm::Domain& d = caller.domain();
  if (info->offset > 4096 - sizeof(vcpu_info_t) || info->offset % 8 != 0)
    return xen::error(XEN_EINVAL);
  if (target.vcpu_info_registered()) return xen::error(XEN_EINVAL);
  // Xen's map_vcpu_info: on the calling vCPU, or on one that is down.
  if (&target != &caller && target.online()) return xen::error(XEN_EINVAL);
  if (long rc = d.page_types().get_type(info->mfn, mm::PageType::kWritable); rc != 0) return rc;
  auto* moved = reinterpret_cast<vcpu_info_t*>(d.ram().frame(info->mfn).data() + info->offset);
  *moved = target.vcpu_info();
  moved->evtchn_upcall_pending = 1;
  moved->evtchn_pending_sel = ~xen_ulong_t{0};
  d.clock().publish(moved->time);  // before the timer thread can see it
  target.move_vcpu_info(moved, info->mfn);
  return 0;
}

long get_runstate_info(vmm::Vcpu& caller, vmm::Vcpu& target, uint64_t arg) {
  vcpu_runstate_info_t info = target.runstate_info();
  return caller.guest_memory().write(arg, info) ? 0 : xen::error(XEN_EFAULT);
}

long register_runstate(vmm::Vcpu& caller, vmm::Vcpu& target, uint64_t arg) {
  auto area = caller.guest_memory().read<vcpu_register_runstate_memory_area_t>(arg);
  if (!area) return xen::error(XEN_EFAULT);
  target.register_runstate_area(area->addr.p);
  return 0;
}

long set_singleshot(vmm::Vcpu& vcpu, uint64_t arg) {
  auto t = vcpu.guest_memory().read<vcpu_set_singleshot_timer_t>(arg);
  if (!t) return xen::error(XEN_EFAULT);
  vmm::Domain& d = vcpu.domain();
  if ((t->flags & VCPU_SSHOTTMR_future) != 0 && t->timeout_abs_ns < d.clock().system_time_ns())
    return xen::error(XEN_ETIME);
  d.timers().set_singleshot(vcpu.id(), t->timeout_abs_ns);
  return 0;
}

long set_periodic(vmm::Vcpu& vcpu, uint64_t arg) {
  auto t = vcpu.guest_memory().read<vcpu_set_periodic_timer_t>(arg);
  if (!t) return xen::error(XEN_EFAULT);
  constexpr uint64_t kMinPeriodNs = 1'000'000;  // Xen refuses periods under 1 ms
  if (t->period_ns < kMinPeriodNs) return xen::error(XEN_EINVAL);
  // ... and periods over STIME_DELTA_MAX (INT64_MAX ns), in vcpu_op's
  // VCPUOP_set_periodic_timer (common/domain.c).
  if (t->period_ns > static_cast<uint64_t>(INT64_MAX)) return xen::error(XEN_EINVAL);
  vcpu.domain().timers().set_periodic(vcpu.id(), t->period_ns);
  return 0;
}

}  // namespace

long do_vcpu_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  auto id = static_cast<unsigned>(args.arg[1]);
  uint64_t arg = args.arg[2];
  vmm::Domain& d = vcpu.domain();
  if (id >= d.nr_vcpus()) return xen::error(XEN_ENOENT);
  vmm::Vcpu& target = d.vcpu(id);
  // Timers are a vCPU's own business (Xen: -EINVAL for another vCPU's).
  bool own = id == vcpu.id();
  switch (cmd) {
    case VCPUOP_initialise:
      return initialise(vcpu, target, arg);
    case VCPUOP_up:
      return vcpu_up(vcpu, target);
    case VCPUOP_is_up:
      return target.online() ? 1 : 0;
    case VCPUOP_down:
      return vcpu_down(vcpu, target);
    case VCPUOP_register_vcpu_info:
      return register_vcpu_info(vcpu, target, arg);
    case VCPUOP_get_runstate_info:
      return get_runstate_info(vcpu, target, arg);
    case VCPUOP_register_runstate_memory_area:
      return register_runstate(vcpu, target, arg);
    case VCPUOP_set_singleshot_timer:
      return own ? set_singleshot(vcpu, arg) : xen::error(XEN_EINVAL);
    case VCPUOP_stop_singleshot_timer:
      if (!own) return xen::error(XEN_EINVAL);
      d.timers().stop_singleshot(id);
      return 0;
    case VCPUOP_set_periodic_timer:
      return own ? set_periodic(vcpu, arg) : xen::error(XEN_EINVAL);
    case VCPUOP_stop_periodic_timer:
      if (!own) return xen::error(XEN_EINVAL);
      d.timers().set_periodic(id, 0);
      return 0;
    default:
      return d.unimplemented().report(args.nr, cmd);
  }
}

// set_timer_op: the older singleshot interface; 0 cancels (do_set_timer_op).
long do_set_timer_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  if (args.arg[0] == 0)
    vcpu.domain().timers().stop_singleshot(vcpu.id());
  else
    vcpu.domain().timers().set_singleshot(vcpu.id(), args.arg[0]);
  return 0;
}

}  // namespace xpv::hv
