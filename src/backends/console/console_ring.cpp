#include "backends/console/console_ring.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace xpv::backends::console {

static_assert(sizeof(xencons_interface) <= xen::kPageSize);
// MASK_XENCONS_IDX only works for power-of-two rings.
static_assert((ConsoleRing::kOutputSize & (ConsoleRing::kOutputSize - 1)) == 0);
static_assert((ConsoleRing::kInputSize & (ConsoleRing::kInputSize - 1)) == 0);
static_assert(std::atomic_ref<XENCONS_RING_IDX>::is_always_lock_free);

namespace {

// The guest may write an index at any moment: load and store it as one
// access the compiler can neither tear, repeat nor elide.
XENCONS_RING_IDX load_index(XENCONS_RING_IDX& index) {
  return std::atomic_ref(index).load(std::memory_order_relaxed);
}

void store_index(XENCONS_RING_IDX& index, XENCONS_RING_IDX value) {
  std::atomic_ref(index).store(value, std::memory_order_relaxed);
}

// Copies dest.size() (<= N) bytes out of `ring` starting at free-running
// index `start`, wrapping at the end of the ring.
template <size_t N>
void copy_from_ring(const char (&ring)[N], XENCONS_RING_IDX start, std::span<uint8_t> dest) {
  size_t offset = MASK_XENCONS_IDX(start, ring);
  size_t first = std::min(dest.size(), N - offset);
  std::memcpy(dest.data(), ring + offset, first);
  std::memcpy(dest.data() + first, ring, dest.size() - first);
}

template <size_t N>
void copy_to_ring(char (&ring)[N], XENCONS_RING_IDX start, std::span<const uint8_t> src) {
  size_t offset = MASK_XENCONS_IDX(start, ring);
  size_t first = std::min(src.size(), N - offset);
  std::memcpy(ring + offset, src.data(), first);
  std::memcpy(ring, src.data() + first, src.size() - first);
}

}  // namespace

std::string RingFault::describe() const {
  bool output = ring == Ring::kOutput;
  char text[160];
  std::snprintf(text, sizeof text,
                "console %s ring: %s 0x%08x and %s 0x%08x put %u bytes in flight (ring holds %zu)",
                output ? "out" : "in", output ? "out_cons" : "in_cons", cons,
                output ? "out_prod" : "in_prod", prod, prod - cons,
                output ? ConsoleRing::kOutputSize : ConsoleRing::kInputSize);
  return text;
}

ConsoleRing::ConsoleRing(std::span<uint8_t, xen::kPageSize> page)
    : interface_(*reinterpret_cast<xencons_interface*>(page.data())) {
  if (reinterpret_cast<uintptr_t>(page.data()) % alignof(xencons_interface) != 0)
    throw ConsoleError("console page is not aligned for struct xencons_interface");
}

Transfer ConsoleRing::read_output(std::span<uint8_t> dest) {
  XENCONS_RING_IDX cons = load_index(interface_.out_cons);
  XENCONS_RING_IDX prod = load_index(interface_.out_prod);
  // Read out[] only after out_prod: the guest filled it before the bump.
  std::atomic_thread_fence(std::memory_order_acquire);
  XENCONS_RING_IDX pending = prod - cons;  // u32 arithmetic wraps as the ABI intends
  if (pending > kOutputSize) [[unlikely]]
    return {0, RingFault{RingFault::Ring::kOutput, cons, prod}};
  size_t n = std::min<size_t>(pending, dest.size());
  copy_from_ring(interface_.out, cons, dest.first(n));
  // Finish reading out[] before the guest may reuse the space.
  std::atomic_thread_fence(std::memory_order_release);
  store_index(interface_.out_cons, cons + static_cast<XENCONS_RING_IDX>(n));
  return {n, std::nullopt};
}

Transfer ConsoleRing::write_input(std::span<const uint8_t> bytes) {
  XENCONS_RING_IDX cons = load_index(interface_.in_cons);
  XENCONS_RING_IDX prod = load_index(interface_.in_prod);
  // Overwrite in[] only after the guest's reads of it, which precede its
  // in_cons update.
  std::atomic_thread_fence(std::memory_order_acquire);
  XENCONS_RING_IDX in_flight = prod - cons;
  if (in_flight > kInputSize) [[unlikely]]
    return {0, RingFault{RingFault::Ring::kInput, cons, prod}};
  size_t n = std::min<size_t>(kInputSize - in_flight, bytes.size());
  copy_to_ring(interface_.in, prod, bytes.first(n));
  // The guest must see the bytes before the in_prod that covers them.
  std::atomic_thread_fence(std::memory_order_release);
  store_index(interface_.in_prod, prod + static_cast<XENCONS_RING_IDX>(n));
  return {n, std::nullopt};
}

}  // namespace xpv::backends::console
