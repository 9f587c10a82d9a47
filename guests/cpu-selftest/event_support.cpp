#include "cpu-selftest/event_support.hpp"

#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

#include <xen/callback.h>

namespace cpu_selftest {

namespace {

using xpv::guest::hypercall;

constexpr uint64_t kKernelRW = 0x1 | 0x2 | 0x20 | 0x40;  // present, writable, accessed, dirty
constexpr unsigned kBitsPerWord = sizeof(xen_ulong_t) * 8;

// A page of the image whose mapping is replaced by shared_info's.
alignas(4096) uint8_t shared_info_window[4096];
bool mapped = false;

Upcall upcalls[kUpcallLogSize];
unsigned upcall_total = 0;
unsigned callback_depth = 0;
PortHook port_hook = nullptr;

uint64_t rdtsc() {
  uint32_t low, high;
  asm volatile("rdtsc" : "=a"(low), "=d"(high));
  return (uint64_t{high} << 32) | low;
}

template <typename T>
T load(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

// The 2-level scan: upcall_pending, then the selector, then each word's
// pending and not masked bits (Linux's evtchn_2l_handle_events).
void deliver_pending_ports() {
  vcpu_info_t& vi = vcpu0_info();
  __atomic_store_n(&vi.evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
  xen_ulong_t selector = __atomic_exchange_n(&vi.evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
  shared_info_t& si = shared();
  while (selector != 0) {
    unsigned word = static_cast<unsigned>(__builtin_ctzl(selector));
    selector &= selector - 1;
    xen_ulong_t ready = load(si.evtchn_pending[word]) & ~load(si.evtchn_mask[word]);
    while (ready != 0) {
      unsigned bit = static_cast<unsigned>(__builtin_ctzl(ready));
      ready &= ready - 1;
      evtchn_port_t port = word * kBitsPerWord + bit;
      clear_port(port);
      upcalls[upcall_total++ % kUpcallLogSize] = Upcall{port, callback_depth - 1};
      if (port_hook != nullptr) port_hook(port);
    }
  }
}

void event_callback(TrapFrame&) {
  ++callback_depth;
  deliver_pending_ports();
  --callback_depth;
}

}  // namespace

shared_info_t& shared() {
  if (!mapped) {
    uint64_t maddr = xpv::guest::start_info_page().shared_info;
    long rc = hypercall(__HYPERVISOR_update_va_mapping, address_of(shared_info_window),
                        maddr | kKernelRW, UVMF_INVLPG | UVMF_LOCAL);
    if (rc != 0) xpv::guest::panic("update_va_mapping(shared_info) failed: %ld", rc);
    mapped = true;
  }
  return *reinterpret_cast<shared_info_t*>(shared_info_window);
}

vcpu_info_t& vcpu0_info() {
  return shared().vcpu_info[0];
}

uint64_t system_time_ns() {
  const vcpu_time_info_t& t = vcpu0_info().time;
  for (;;) {
    uint32_t version = load(t.version);
    uint64_t delta = rdtsc() - load(t.tsc_timestamp);
    int8_t shift = load(t.tsc_shift);
    delta = shift >= 0 ? delta << shift : delta >> -shift;
    uint64_t mul = load(t.tsc_to_system_mul);  // (delta * mul) >> 32, in two halves
    uint64_t scaled = (delta >> 32) * mul + (((delta & 0xffffffff) * mul) >> 32);
    uint64_t now = load(t.system_time) + scaled;
    if ((version & 1) == 0 && version == load(t.version)) return now;
  }
}

long evtchn_op(int cmd, void* arg) {
  return hypercall(__HYPERVISOR_event_channel_op, static_cast<uint64_t>(cmd), address_of(arg));
}

long bind_ipi() {
  evtchn_bind_ipi_t op{};
  op.vcpu = 0;
  long rc = evtchn_op(EVTCHNOP_bind_ipi, &op);
  return rc != 0 ? rc : static_cast<long>(op.port);
}

long bind_virq(uint32_t virq) {
  evtchn_bind_virq_t op{};
  op.virq = virq;
  op.vcpu = 0;
  long rc = evtchn_op(EVTCHNOP_bind_virq, &op);
  return rc != 0 ? rc : static_cast<long>(op.port);
}

long send(evtchn_port_t port) {
  evtchn_send_t op{port};
  return evtchn_op(EVTCHNOP_send, &op);
}

long close_port(evtchn_port_t port) {
  evtchn_close_t op{port};
  return evtchn_op(EVTCHNOP_close, &op);
}

long unmask_port(evtchn_port_t port) {
  evtchn_unmask_t op{port};
  return evtchn_op(EVTCHNOP_unmask, &op);
}

void mask_port(evtchn_port_t port) {
  __atomic_fetch_or(&shared().evtchn_mask[port / kBitsPerWord],
                    xen_ulong_t{1} << (port % kBitsPerWord), __ATOMIC_SEQ_CST);
}

bool port_pending(evtchn_port_t port) {
  return (load(shared().evtchn_pending[port / kBitsPerWord]) >> (port % kBitsPerWord) & 1) != 0;
}

void clear_port(evtchn_port_t port) {
  __atomic_fetch_and(&shared().evtchn_pending[port / kBitsPerWord],
                     ~(xen_ulong_t{1} << (port % kBitsPerWord)), __ATOMIC_SEQ_CST);
}

long register_event_callback() {
  static ScopedTrapHandler handler(kEventUpcall, event_callback);
  callback_register reg{};
  reg.type = CALLBACKTYPE_event;
  reg.address = address_of(xpv_trap_entry_0xe0);
  return hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, address_of(&reg));
}

void clear_upcall_log() {
  upcall_total = 0;
}
unsigned upcall_count() {
  return upcall_total;
}
const Upcall& upcall(unsigned index) {
  return upcalls[index % kUpcallLogSize];
}
void set_port_hook(PortHook hook) {
  port_hook = hook;
}

void write_upcall_mask(bool masked) {
  __atomic_store_n(&vcpu0_info().evtchn_upcall_mask, masked ? 1 : 0, __ATOMIC_SEQ_CST);
  if (!masked && load(vcpu0_info().evtchn_upcall_pending) != 0)
    hypercall(__HYPERVISOR_xen_version, XENVER_version, 0);
}

}  // namespace cpu_selftest
