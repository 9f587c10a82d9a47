// Event delivery (xen/event_channel.h, 2-level ABI; the "held off"
// notifications of the Xen paper): the callback runs on any return to the
// guest while an event is pending and the upcall mask is clear, with the
// mask set; a notification that arrives while masked — the vCPU's mask or
// the port's — waits and is delivered on unmask; an event that arrives
// inside the callback waits for the callback to unmask.
#include "cpu-selftest/event_support.hpp"
#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/test.hpp"

namespace {

using namespace cpu_selftest;

// An IPI port on vCPU 0 for one test, events masked before and after.
struct ScopedPort {
  long port;
  ScopedPort() : port(bind_ipi()) {
    write_upcall_mask(true);
    if (port > 0) clear_port(static_cast<evtchn_port_t>(port));
  }
  ~ScopedPort() {
    write_upcall_mask(true);
    if (port > 0) close_port(static_cast<evtchn_port_t>(port));
    vcpu0_info().evtchn_upcall_pending = 0;
    vcpu0_info().evtchn_pending_sel = 0;
    set_port_hook(nullptr);
  }
  evtchn_port_t id() const { return static_cast<evtchn_port_t>(port); }
};

XPV_TEST(EventSentWhileMaskedIsDeliveredOnUnmask) {
  XPV_ASSERT_EQ(register_event_callback(), 0);
  ScopedPort p;
  XPV_ASSERT(p.port > 0);
  clear_upcall_log();
  XPV_ASSERT_EQ(send(p.id()), 0);
  XPV_EXPECT(port_pending(p.id()));
  XPV_EXPECT_EQ(vcpu0_info().evtchn_upcall_pending, 1);
  XPV_EXPECT_EQ(upcall_count(), 0u);  // held off: the vCPU's mask is set
  write_upcall_mask(false);
  XPV_ASSERT_EQ(upcall_count(), 1u);
  XPV_EXPECT_EQ(upcall(0).port, p.id());
  XPV_EXPECT_EQ(upcall(0).depth, 0u);
  XPV_EXPECT_EQ(last_trap().vector, kEventUpcall);
  XPV_EXPECT_EQ(last_trap().saved_upcall_mask(), 0u);  // the interrupted context had them on
}

XPV_TEST(EventOnAMaskedPortIsHeldUntilEvtchnUnmask) {
  XPV_ASSERT_EQ(register_event_callback(), 0);
  ScopedPort p;
  XPV_ASSERT(p.port > 0);
  mask_port(p.id());
  write_upcall_mask(false);
  clear_upcall_log();
  XPV_ASSERT_EQ(send(p.id()), 0);
  XPV_EXPECT(port_pending(p.id()));
  XPV_EXPECT_EQ(vcpu0_info().evtchn_upcall_pending, 0);  // the port's mask holds it
  XPV_EXPECT_EQ(upcall_count(), 0u);
  XPV_ASSERT_EQ(unmask_port(p.id()), 0);  // delivered on the way back from the unmask
  XPV_ASSERT_EQ(upcall_count(), 1u);
  XPV_EXPECT_EQ(upcall(0).port, p.id());
}

evtchn_port_t nested_port;

// Sends on `first` with events masked, the callback's hook raising
// `second` (nested_port) from inside, then unmasks: both get delivered.
// Returns how many upcalls that made.
unsigned deliver_with_nested_send(const ScopedPort& first, const ScopedPort& second,
                                  PortHook hook) {
  if (register_event_callback() != 0 || first.port <= 0 || second.port <= 0) return 0;
  nested_port = second.id();
  set_port_hook(hook);
  clear_upcall_log();
  if (send(first.id()) != 0) return 0;
  write_upcall_mask(false);
  return upcall_count();
}

XPV_TEST(EventRaisedInsideTheCallbackWaitsForItsReturn) {
  ScopedPort first, second;
  unsigned upcalls = deliver_with_nested_send(first, second, [](evtchn_port_t port) {
    if (port != nested_port) send(nested_port);  // events are masked in here
  });
  XPV_ASSERT_EQ(upcalls, 2u);
  XPV_EXPECT_EQ(upcall(0).port, first.id());
  XPV_EXPECT_EQ(upcall(1).port, second.id());
  // Not nested: delivered after the first callback's iret unmasked.
  XPV_EXPECT_EQ(upcall(1).depth, 0u);
}

XPV_TEST(CallbackThatUnmasksTakesANestedEvent) {
  ScopedPort first, second;
  unsigned upcalls = deliver_with_nested_send(first, second, [](evtchn_port_t port) {
    if (port == nested_port) return;
    send(nested_port);
    write_upcall_mask(false);  // as a kernel re-enabling interrupts in a handler
    write_upcall_mask(true);
  });
  XPV_ASSERT_EQ(upcalls, 2u);
  XPV_EXPECT_EQ(upcall(1).port, second.id());
  XPV_EXPECT_EQ(upcall(1).depth, 1u);  // inside the first callback
}

XPV_TEST(EvtchnSendToABadPortIsRefused) {
  XPV_EXPECT_EQ(send(EVTCHN_2L_NR_CHANNELS), -XEN_EINVAL);
  XPV_EXPECT_EQ(send(0xffffffff), -XEN_EINVAL);
  XPV_EXPECT_EQ(unmask_port(EVTCHN_2L_NR_CHANNELS), -XEN_EINVAL);
}

}  // namespace
