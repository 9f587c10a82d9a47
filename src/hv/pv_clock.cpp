#include "hv/pv_clock.hpp"

#include <x86intrin.h>

#include <atomic>

namespace xpv::hv {

TscScale TscScale::for_frequency(uint64_t tsc_hz) {
  // Bring the frequency into (1e9, 2e9] with a power of two, so that the
  // multiplier 2^32 * 1e9 / frequency fits in 32 bits.
  int shift = 0;
  uint64_t hz = tsc_hz;
  while (hz > 2'000'000'000ULL) {
    hz >>= 1;
    --shift;
  }
  while (hz <= 1'000'000'000ULL) {
    hz <<= 1;
    ++shift;
  }
  auto mul = static_cast<uint32_t>((1'000'000'000ULL << 32) / hz);
  return {mul, static_cast<int8_t>(shift)};
}

uint64_t TscScale::to_ns(uint64_t tsc_delta) const {
  uint64_t d = shift >= 0 ? tsc_delta << shift : tsc_delta >> -shift;
  // (d * mul) >> 32 without a 128-bit type: split d into 32-bit halves.
  uint64_t high = (d >> 32) * mul;
  uint64_t low = ((d & 0xffffffffULL) * mul) >> 32;
  return high + low;
}

PvClock::PvClock(uint64_t tsc_khz, int64_t guest_tsc_offset)
    : scale_(TscScale::for_frequency(tsc_khz * 1000)),
      guest_tsc_offset_(guest_tsc_offset),
      start_(std::chrono::steady_clock::now()),
      start_wallclock_(std::chrono::system_clock::now()) {}

uint64_t PvClock::system_time_ns() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - start_)
                                   .count());
}

uint64_t PvClock::guest_tsc() const {
  return static_cast<uint64_t>(static_cast<int64_t>(__rdtsc()) + guest_tsc_offset_);
}

void PvClock::publish(vcpu_time_info_t& time) const {
  uint32_t version = __atomic_load_n(&time.version, __ATOMIC_RELAXED);
  __atomic_store_n(&time.version, version + 1 + (version & 1), __ATOMIC_RELEASE);  // odd
  std::atomic_thread_fence(std::memory_order_seq_cst);
  time.tsc_timestamp = guest_tsc();
  time.system_time = system_time_ns();
  time.tsc_to_system_mul = scale_.mul;
  time.tsc_shift = scale_.shift;
  time.flags = XEN_PVCLOCK_TSC_STABLE_BIT;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  __atomic_store_n(&time.version, version + 2 + (version & 1), __ATOMIC_RELEASE);  // even
}

// The wallclock is the time of day at system time 0.
void PvClock::publish_wallclock(shared_info_t& shared) const {
  auto since_epoch = start_wallclock_.time_since_epoch();
  auto ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
  uint32_t version = __atomic_load_n(&shared.wc_version, __ATOMIC_RELAXED);
  __atomic_store_n(&shared.wc_version, version + 1 + (version & 1), __ATOMIC_RELEASE);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t sec = ns / 1'000'000'000ULL;
  shared.wc_sec = static_cast<uint32_t>(sec);
  shared.wc_nsec = static_cast<uint32_t>(ns % 1'000'000'000ULL);
  shared.xen_wc_sec_hi = static_cast<uint32_t>(sec >> 32);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  __atomic_store_n(&shared.wc_version, version + 2 + (version & 1), __ATOMIC_RELEASE);
}

}  // namespace xpv::hv
