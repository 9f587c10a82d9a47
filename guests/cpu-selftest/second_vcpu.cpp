// A second vCPU (xen/vcpu.h VCPUOP_initialise, up, down, is_up): vCPU 0
// gives vCPU 1 a context of its own (stack, entry point, the same L4),
// brings it up, and the two exchange IPIs through event channels
// (EVTCHNOP_bind_ipi, send) before vCPU 1 takes itself down. Brought up
// again, vCPU 1 resumes after its VCPUOP_down and watches a mapping that
// vCPU 0 changes with a flush of every vCPU's TLB (UVMF_ALL). Plus the
// hostile cases: bad vCPU ids, initialising twice, up before initialise,
// bad contexts. With one vCPU (`xpv run --vcpus 1`) only the checks that
// need no second vCPU run.
#include <initializer_list>

#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

// clang-format off
#include <xen/event_channel.h>
#include <xen/vcpu.h>
// clang-format on

namespace {

using cpu_selftest::address_of;
using xpv::guest::hypercall;

constexpr uint64_t kNonCanonical = 0x8000000000000000;
constexpr uint64_t kPteKernelRW = 0x63;   // present, writable, accessed, dirty
constexpr unsigned kPollRounds = 200000;  // each a sched_op yield: seconds at most

long vcpu_op(int cmd, unsigned vcpu, const void* arg = nullptr) {
  return hypercall(__HYPERVISOR_vcpu_op, static_cast<uint64_t>(cmd), vcpu, address_of(arg));
}

long initialise(unsigned vcpu, const vcpu_guest_context_t& context) {
  return vcpu_op(VCPUOP_initialise, vcpu, &context);
}

bool has_second_vcpu() {
  return vcpu_op(VCPUOP_is_up, 1) >= 0;
}

// Prints why a test that needs two vCPUs did nothing.
bool second_vcpu_or_note() {
  if (has_second_vcpu()) return true;
  xpv::guest::printk("  (one vCPU: nothing to check)\n");
  return false;
}

template <typename T>
T load(const T& value) {
  return __atomic_load_n(&value, __ATOMIC_SEQ_CST);
}
template <typename T>
void store(T& value, T v) {
  __atomic_store_n(&value, v, __ATOMIC_SEQ_CST);
}

// Polls until `done()` holds, yielding the host CPU in between.
template <typename Done>
bool wait_for(Done done) {
  for (unsigned i = 0; i < kPollRounds; ++i) {
    if (done()) return true;
    xpv::guest::sched_yield();
  }
  return done();
}

// Page-aligned frames of the guest image: the window's VA is remapped to
// shared_info, the watched window between `pattern_a` and `pattern_b`.
alignas(4096) uint8_t shared_info_window[4096];
alignas(4096) uint64_t watched_window[512];
alignas(4096) uint64_t pattern_a[512];
alignas(4096) uint64_t pattern_b[512];
constexpr uint64_t kPatternA = 0xaaaa'0000'0000'000a, kPatternB = 0xbbbb'0000'0000'000b;

long map_at(const void* va, uint64_t mfn) {
  return hypercall(__HYPERVISOR_update_va_mapping, address_of(va), (mfn << 12) | kPteKernelRW,
                   UVMF_INVLPG | UVMF_ALL);
}

shared_info_t* shared_info() {
  static shared_info_t* mapped = nullptr;
  if (mapped == nullptr) {
    uint64_t mfn = xpv::guest::start_info_page().shared_info >> 12;
    if (map_at(shared_info_window, mfn) != 0) xpv::guest::panic("cannot map shared_info");
    mapped = reinterpret_cast<shared_info_t*>(shared_info_window);
  }
  return mapped;
}

// Clears a port's pending bit; whether it was set.
bool take_pending(evtchn_port_t port) {
  constexpr unsigned kBits = sizeof(xen_ulong_t) * 8;
  xen_ulong_t bit = xen_ulong_t{1} << (port % kBits);
  return (__atomic_fetch_and(&shared_info()->evtchn_pending[port / kBits], ~bit, __ATOMIC_SEQ_CST) &
          bit) != 0;
}

long bind_ipi(unsigned vcpu, evtchn_port_t& port) {
  evtchn_bind_ipi_t bind{};
  bind.vcpu = vcpu;
  long rc = hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, address_of(&bind));
  port = bind.port;
  return rc;
}

long send(evtchn_port_t port) {
  evtchn_send_t s{port};
  return hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, address_of(&s));
}

void close(evtchn_port_t port) {
  evtchn_close_t c{port};
  hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_close, address_of(&c));
}

void mask(evtchn_port_t port) {
  constexpr unsigned kBits = sizeof(xen_ulong_t) * 8;
  __atomic_fetch_or(&shared_info()->evtchn_mask[port / kBits], xen_ulong_t{1} << (port % kBits),
                    __ATOMIC_SEQ_CST);
}

// SCHEDOP_poll: `timeout` is an absolute system time, 0 for none.
long poll(const evtchn_port_t* ports, unsigned nr_ports, uint64_t timeout = 0) {
  sched_poll_t request{};
  request.ports.p = const_cast<evtchn_port_t*>(ports);
  request.nr_ports = nr_ports;
  request.timeout = timeout;
  return hypercall(__HYPERVISOR_sched_op, SCHEDOP_poll, address_of(&request));
}

// What the two vCPUs share; each field written by one of them.
struct Exchange {
  evtchn_port_t to_second = 0;  // an IPI port bound to vCPU 1
  evtchn_port_t to_first = 0;   // one bound to vCPU 0
  evtchn_port_t polled = 0;     // masked, bound to vCPU 1, which polls it
  bool polling = false;
  long poll_result = -1;
  bool poll_saw_pending = false;
  long version = 0;            // xen_version(XENVER_version) on vCPU 1
  long self_up = 0;            // VCPUOP_is_up(1) on vCPU 1
  uint64_t stack_address = 0;  // a local variable of vCPU 1
  long send_result = -1;
  unsigned rounds = 0;  // finished by vCPU 1
  // The second round: vCPU 1 reads the window until it sees `flushed`.
  bool watching = false;
  bool flushed = false;
  uint64_t seen_after_flush = 0;
};
Exchange exchange;
alignas(16) uint8_t second_stack[16384];

// vCPU 1 waits for its IPI as a PV kernel does: selector and upcall flag
// cleared first, then the port checked, then SCHEDOP_block, which returns
// once an event is pending for it (its upcall mask is cleared by the
// block and it has no event callback, so none is entered).
void second_wait_for_ipi() {
  vcpu_info_t& self = shared_info()->vcpu_info[1];
  for (;;) {
    store<uint8_t>(self.evtchn_upcall_pending, 0);
    __atomic_exchange_n(&self.evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    if (take_pending(load(exchange.to_second))) return;
    hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0);
  }
}

void second_watch_window() {
  store(exchange.watching, true);
  for (;;) {
    bool flushed = load(exchange.flushed);
    uint64_t seen = load(watched_window[0]);
    if (flushed) return store(exchange.seen_after_flush, seen);
  }
}

// vCPU 1's entry point. Each round ends in VCPUOP_down, and VCPUOP_up
// resumes it right after that call.
[[noreturn]] void second_vcpu_main() {
  for (;;) {
    unsigned round = load(exchange.rounds);
    if (round == 0) {
      int local = 0;
      store(exchange.stack_address, address_of(&local));
      store(exchange.version, xpv::guest::xen_version(XENVER_version, nullptr));
      store(exchange.self_up, vcpu_op(VCPUOP_is_up, 1));
      second_wait_for_ipi();
      store(exchange.send_result, send(load(exchange.to_first)));
      // As Linux's PV spinlocks wait: a masked port, polled.
      evtchn_port_t polled = load(exchange.polled);
      store(exchange.polling, true);
      store(exchange.poll_result, poll(&polled, 1));
      store(exchange.poll_saw_pending, take_pending(polled));
    } else {
      second_watch_window();
    }
    store(exchange.rounds, round + 1);
    vcpu_op(VCPUOP_down, 1);
  }
}

uint64_t l4_mfn() {
  return xpv::guest::mfn_of(reinterpret_cast<const void*>(xpv::guest::start_info_page().pt_base));
}

// Kernel mode at second_vcpu_main on its own stack, on vCPU 0's L4, with
// Xen's flat selectors, no GDT, no trap table and no callbacks.
vcpu_guest_context_t good_context() {
  vcpu_guest_context_t c{};
  c.flags = VGCF_in_kernel;
  c.user_regs.rip = address_of(reinterpret_cast<const void*>(&second_vcpu_main));
  // As after a call: the return address slot below a 16-byte boundary.
  c.user_regs.rsp = address_of(second_stack + sizeof second_stack) - 8;
  c.user_regs.cs = FLAT_KERNEL_CS;
  c.user_regs.ss = FLAT_KERNEL_SS;
  c.user_regs.rflags = cpu_selftest::rflags::kIf;
  c.kernel_ss = FLAT_KERNEL_SS;
  c.kernel_sp = address_of(second_stack + sizeof second_stack);
  c.ctrlreg[3] = xen_pfn_to_cr3(l4_mfn());
  return c;
}

XPV_TEST(VcpuOpOnAVcpuThatDoesNotExistIsEnoent) {
  vcpu_guest_context_t c = good_context();
  for (unsigned bad : {64U, 1000U, 0xffffffffU}) {
    XPV_EXPECT_EQ(initialise(bad, c), -XEN_ENOENT);
    XPV_EXPECT_EQ(vcpu_op(VCPUOP_up, bad), -XEN_ENOENT);
    XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, bad), -XEN_ENOENT);
  }
  if (!has_second_vcpu()) XPV_EXPECT_EQ(initialise(1, c), -XEN_ENOENT);
}

// vCPU 0 has its context from the domain builder.
XPV_TEST(InitialisingTheRunningVcpuIsEexist) {
  XPV_EXPECT_EQ(initialise(0, good_context()), -XEN_EEXIST);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 0), 1);
}

XPV_TEST(UpBeforeInitialiseIsEinval) {
  if (!second_vcpu_or_note()) return;
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_up, 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
}

// Each bad context is refused with Xen's error and leaves vCPU 1 without
// a context: VCPUOP_up still says -EINVAL.
XPV_TEST(InitialiseRefusesBadContexts) {
  if (!second_vcpu_or_note()) return;
  struct Case {
    const char* what;
    void (*spoil)(vcpu_guest_context_t&);
    long expected;  // 0: any error
  };
  static const Case cases[] = {
      {"rip", [](auto& c) { c.user_regs.rip = kNonCanonical; }, -XEN_EINVAL},
      {"rsp", [](auto& c) { c.user_regs.rsp = kNonCanonical; }, -XEN_EINVAL},
      {"kernel_sp", [](auto& c) { c.kernel_sp = kNonCanonical; }, -XEN_EINVAL},
      {"fs_base", [](auto& c) { c.fs_base = kNonCanonical; }, -XEN_EINVAL},
      {"gs_base_user", [](auto& c) { c.gs_base_user = kNonCanonical; }, -XEN_EINVAL},
      {"event callback", [](auto& c) { c.event_callback_eip = kNonCanonical; }, -XEN_EINVAL},
      {"trap handler", [](auto& c) { c.trap_ctxt[3].address = kNonCanonical; }, -XEN_EINVAL},
      {"dr0 in the hole", [](auto& c) { c.debugreg[0] = HYPERVISOR_VIRT_START; }, -XEN_EINVAL},
      {"dr7 upper half", [](auto& c) { c.debugreg[7] = 1ULL << 32; }, -XEN_EINVAL},
      {"ldt_base unaligned", [](auto& c) { c.ldt_base = 0x1008; }, -XEN_EINVAL},
      {"ldt_ents", [](auto& c) { c.ldt_ents = 8193; }, -XEN_EINVAL},
      {"gdt_ents", [](auto& c) { c.gdt_ents = FIRST_RESERVED_GDT_ENTRY + 1; }, -XEN_EINVAL},
      {"user mode without user page tables", [](auto& c) { c.flags = 0; }, -XEN_EINVAL},
      {"cr3 outside RAM", [](auto& c) { c.ctrlreg[3] = 0; }, -XEN_EINVAL},
      {"cr3 of a writable page",
       [](auto& c) { c.ctrlreg[3] = xen_pfn_to_cr3(xpv::guest::mfn_of(pattern_a)); }, 0},
      {"code selector", [](auto& c) { c.user_regs.cs = 0x4b; }, -XEN_EINVAL},
      {"stack selector", [](auto& c) { c.user_regs.ss = FLAT_KERNEL_CS; }, -XEN_EINVAL},
      {"GDT frame mapped writable",
       [](auto& c) {
         c.gdt_frames[0] = xpv::guest::mfn_of(pattern_a);
         c.gdt_ents = 16;
       },
       0},
  };
  for (const Case& bad : cases) {
    vcpu_guest_context_t c = good_context();
    bad.spoil(c);
    long rc = initialise(1, c);
    if (bad.expected != 0 ? rc != bad.expected : rc >= 0)
      xpv::guest::printk("  bad %s: initialise returned %ld\n", bad.what, rc);
    XPV_EXPECT(bad.expected != 0 ? rc == bad.expected : rc < 0);
    XPV_EXPECT_EQ(vcpu_op(VCPUOP_up, 1), -XEN_EINVAL);
  }
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_vcpu_op, VCPUOP_initialise, 1, 0x1000), -XEN_EFAULT);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
}

XPV_TEST(SecondVcpuRunsHypercallsAndExchangesIpis) {
  if (!second_vcpu_or_note()) return;
  // vCPU 0 polls its port: masked, it raises no upcall (this guest's event
  // callback, if any, is not one to enter).
  XPV_ASSERT_EQ(bind_ipi(1, exchange.to_second), 0);
  XPV_ASSERT_EQ(bind_ipi(0, exchange.to_first), 0);
  XPV_ASSERT_EQ(bind_ipi(1, exchange.polled), 0);
  mask(exchange.to_first);
  mask(exchange.polled);

  XPV_ASSERT_EQ(initialise(1, good_context()), 0);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);  // initialised, not up yet
  XPV_ASSERT_EQ(vcpu_op(VCPUOP_up, 1), 0);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 1);

  XPV_ASSERT(wait_for([] { return load(exchange.self_up) == 1; }));
  XPV_EXPECT_EQ(load(exchange.version), xpv::guest::xen_version(XENVER_version, nullptr));
  uint64_t stack = load(exchange.stack_address);
  XPV_EXPECT(stack > address_of(second_stack) && stack < address_of(second_stack + 16384));

  XPV_EXPECT_EQ(send(exchange.to_second), 0);
  XPV_EXPECT(wait_for([] { return take_pending(exchange.to_first); }));
  XPV_ASSERT(wait_for([] { return load(exchange.polling); }));
  for (int i = 0; i < 20; ++i)  // most likely vCPU 1 waits in the poll now
    xpv::guest::sched_yield();
  XPV_EXPECT_EQ(send(exchange.polled), 0);
  XPV_ASSERT(wait_for([] { return vcpu_op(VCPUOP_is_up, 1) == 0; }));
  XPV_EXPECT_EQ(load(exchange.send_result), 0);
  XPV_EXPECT_EQ(load(exchange.poll_result), 0);
  XPV_EXPECT(load(exchange.poll_saw_pending));
  XPV_EXPECT_EQ(load(exchange.rounds), 1u);
}

XPV_TEST(InitialisingTwiceIsEexist) {
  if (!second_vcpu_or_note()) return;
  XPV_EXPECT_EQ(initialise(1, good_context()), -XEN_EEXIST);
  XPV_EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
}

// vCPU 1 keeps reading the window while vCPU 0 remaps it: once
// update_va_mapping with UVMF_ALL has returned, vCPU 1 may no longer see
// the old frame.
XPV_TEST(UpResumesAfterDownAndRemoteTlbFlushTakesEffect) {
  if (!second_vcpu_or_note()) return;
  for (unsigned i = 0; i < 512; ++i) {
    pattern_a[i] = kPatternA;
    pattern_b[i] = kPatternB;
  }
  XPV_ASSERT_EQ(map_at(watched_window, xpv::guest::mfn_of(pattern_a)), 0);
  XPV_ASSERT_EQ(vcpu_op(VCPUOP_up, 1), 0);
  XPV_ASSERT(wait_for([] { return load(exchange.watching); }));
  XPV_EXPECT_EQ(map_at(watched_window, xpv::guest::mfn_of(pattern_b)), 0);
  store(exchange.flushed, true);
  XPV_ASSERT(wait_for([] { return vcpu_op(VCPUOP_is_up, 1) == 0; }));
  XPV_EXPECT_EQ(load(exchange.rounds), 2u);
  XPV_EXPECT_EQ(load(exchange.seen_after_flush), kPatternB);
  // Flushes of a vCPU that is down do not wait for it.
  mmuext_op_t flush{};
  flush.cmd = MMUEXT_TLB_FLUSH_ALL;
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_mmuext_op, address_of(&flush), 1, 0, DOMID_SELF), 0);
  close(exchange.to_first);
  close(exchange.to_second);
  close(exchange.polled);
}

}  // namespace
