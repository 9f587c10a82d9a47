// What every benchmark guest shares: time from the guest's own TSC scaled
// by vcpu_time_info (xen.h), as a PV kernel reads it; the run parameters
// from the command line; medians; and the one line format bench/run.sh
// and the guest tests parse:
//
//   bench: NAME VALUE UNIT runs=R iterations=N
//
// VALUE is the median of R runs of N iterations each, an integer.
#pragma once

#include <cstdint>

#include "runtime/xen.hpp"

namespace bench {

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

// Maps shared_info (start_info.shared_info) over a page of this image.
// Call once before anything below that reads time.
void map_shared_info();
shared_info_t& shared_info();

// Xen system time (ns since the domain started) at the TSC value `tsc`.
uint64_t system_time_at(uint64_t tsc);
inline uint64_t system_time_ns() {
  return system_time_at(rdtsc());
}
// A TSC difference in nanoseconds.
uint64_t tsc_delta_ns(uint64_t tsc_delta);

// `name=N` on the command line, or `fallback`.
uint64_t parameter(const char* name, uint64_t fallback);

// How many runs and iterations a figure takes: `runs=` and `iterations=`
// on the command line, else the guest's defaults.
struct Plan {
  uint64_t runs;
  uint64_t iterations;
};
Plan plan(uint64_t default_runs, uint64_t default_iterations);

constexpr unsigned kMaxRuns = 64;

// Runs `measure(iterations)` (which returns the total ns of one run)
// `plan.runs` times and reports the median per iteration, in ns.
template <typename Measure>
uint64_t median_ns_per_iteration(const Plan& plan, Measure&& measure);

uint64_t median(uint64_t* values, unsigned count);  // sorts `values`

void report(const char* name, uint64_t value, const char* unit, const Plan& plan);

template <typename Measure>
uint64_t median_ns_per_iteration(const Plan& plan, Measure&& measure) {
  uint64_t samples[kMaxRuns];
  unsigned runs = plan.runs < kMaxRuns ? static_cast<unsigned>(plan.runs) : kMaxRuns;
  for (unsigned r = 0; r < runs; ++r)
    samples[r] = measure(plan.iterations) / plan.iterations;
  return median(samples, runs);
}

}  // namespace bench
