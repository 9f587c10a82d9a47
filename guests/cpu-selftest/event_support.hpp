// What the event, poll and timer tests share: shared_info mapped in the
// guest, Xen system time read from vcpu_time_info, event-channel
// operations, and an event callback that records the ports it finds
// pending, as a PV kernel's upcall handler scans them (2-level ABI).
#pragma once

#include <cstdint>

#include "runtime/xen.hpp"

namespace cpu_selftest {

// shared_info, mapped on first use.
shared_info_t& shared();
vcpu_info_t& vcpu0_info();

// Xen system time in ns (vcpu_time_info's version protocol).
uint64_t system_time_ns();

long evtchn_op(int cmd, void* arg);
long bind_ipi();                // a port on vCPU 0, or -errno
long bind_virq(uint32_t virq);  // on vCPU 0
long send(evtchn_port_t port);
long close_port(evtchn_port_t port);
long unmask_port(evtchn_port_t port);  // EVTCHNOP_unmask
void mask_port(evtchn_port_t port);    // sets the mask bit in shared_info
bool port_pending(evtchn_port_t port);
void clear_port(evtchn_port_t port);  // clears its pending bit

// Registers the event callback (runtime/traps.S, pseudo-vector kEventUpcall).
long register_event_callback();

// What the callback saw: each port it found pending (and cleared), and
// how deep in nested callbacks it was.
struct Upcall {
  evtchn_port_t port;
  unsigned depth;  // 0: the callback interrupted the test itself
};
constexpr unsigned kUpcallLogSize = 16;
void clear_upcall_log();
unsigned upcall_count();
const Upcall& upcall(unsigned index);

// Run inside the callback for each port it delivers (before it returns).
using PortHook = void (*)(evtchn_port_t port);
void set_port_hook(PortHook hook);

// Writes vcpu_info's upcall mask directly, as Linux's xen_irq_disable /
// enable do; unmasking enters the hypervisor (xen_version) so that a
// pending event is delivered at once, as xen_force_evtchn_callback does.
void write_upcall_mask(bool masked);

}  // namespace cpu_selftest
