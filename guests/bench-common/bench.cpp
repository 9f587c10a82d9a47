#include "bench-common/bench.hpp"

#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

namespace bench {

namespace {

constexpr uint64_t kPresentWritableAccessedDirty = 0x63;

// The page shared_info is mapped over: its own frame simply loses this
// mapping.
alignas(4096) uint8_t shared_info_window[4096];
shared_info_t* the_shared_info = nullptr;

// The value of `name=` in the command line, or nullptr.
const char* find_parameter(const char* name) {
  const char* word = reinterpret_cast<const char*>(xpv::guest::start_info_page().cmd_line);
  size_t length = strlen(name);
  while (*word != '\0') {
    while (*word == ' ')
      ++word;
    if (memcmp(word, name, length) == 0 && word[length] == '=') return word + length + 1;
    while (*word != ' ' && *word != '\0')
      ++word;
  }
  return nullptr;
}

}  // namespace

void map_shared_info() {
  uint64_t va = reinterpret_cast<uintptr_t>(shared_info_window);
  long rc = xpv::guest::hypercall(
      __HYPERVISOR_update_va_mapping, va,
      xpv::guest::start_info_page().shared_info | kPresentWritableAccessedDirty,
      UVMF_INVLPG | UVMF_LOCAL);
  if (rc != 0) xpv::guest::panic("update_va_mapping(shared_info) failed: %ld", rc);
  the_shared_info = reinterpret_cast<shared_info_t*>(shared_info_window);
}

shared_info_t& shared_info() {
  return *the_shared_info;
}

namespace {

struct TimeInfo {
  uint64_t tsc_timestamp, system_time;
  uint32_t mul;
  int8_t shift;

  uint64_t scale(uint64_t tsc_delta) const {
    tsc_delta = shift >= 0 ? tsc_delta << shift : tsc_delta >> -shift;
    // (hi * 2^32 + lo) * mul >> 32, exactly, without 128-bit arithmetic.
    return (tsc_delta >> 32) * mul + (((tsc_delta & 0xffffffff) * mul) >> 32);
  }
};

// Xen's version protocol (xen.h, struct vcpu_time_info): an odd version,
// or one that changed while reading, means an update was in progress.
TimeInfo read_time_info() {
  const volatile vcpu_time_info_t& t = the_shared_info->vcpu_info[0].time;
  TimeInfo info{};
  uint32_t version = 0;
  do {
    version = t.version;
    asm volatile("" ::: "memory");
    info = {t.tsc_timestamp, t.system_time, t.tsc_to_system_mul, t.tsc_shift};
    asm volatile("" ::: "memory");
  } while ((version & 1) != 0 || version != t.version);
  return info;
}

}  // namespace

uint64_t system_time_at(uint64_t tsc) {
  TimeInfo info = read_time_info();
  return info.system_time + info.scale(tsc - info.tsc_timestamp);
}

uint64_t tsc_delta_ns(uint64_t tsc_delta) {
  return read_time_info().scale(tsc_delta);
}

uint64_t parameter(const char* name, uint64_t fallback) {
  const char* value = find_parameter(name);
  if (value == nullptr || *value < '0' || *value > '9') return fallback;
  uint64_t n = 0;
  for (; *value >= '0' && *value <= '9'; ++value)
    n = n * 10 + static_cast<uint64_t>(*value - '0');
  return n;
}

Plan plan(uint64_t default_runs, uint64_t default_iterations) {
  Plan p{parameter("runs", default_runs), parameter("iterations", default_iterations)};
  if (p.runs == 0) p.runs = 1;
  if (p.runs > kMaxRuns) p.runs = kMaxRuns;
  if (p.iterations == 0) p.iterations = 1;
  return p;
}

uint64_t median(uint64_t* values, unsigned count) {
  for (unsigned i = 1; i < count; ++i) {  // insertion sort: a handful of runs
    for (unsigned j = i; j > 0 && values[j - 1] > values[j]; --j) {
      uint64_t v = values[j];
      values[j] = values[j - 1];
      values[j - 1] = v;
    }
  }
  return count == 0 ? 0 : values[count / 2];
}

void report(const char* name, uint64_t value, const char* unit, const Plan& plan) {
  xpv::guest::printk("bench: %s %lu %s runs=%lu iterations=%lu\n", name, value, unit, plan.runs,
                     plan.iterations);
}

}  // namespace bench
