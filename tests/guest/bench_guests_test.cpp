// The benchmark guests (bench/run.sh) run once with tiny counts and report
// every figure they promise, each a plausible number of nanoseconds: they
// cannot rot unnoticed between benchmark runs. No timing is asserted.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

// A `bench: NAME VALUE UNIT runs=R iterations=N` line, by NAME.
struct Figure {
  uint64_t value = 0;
  std::string unit, runs, iterations;
};

std::map<std::string, Figure> read_figures(const std::string& out) {
  std::map<std::string, Figure> figures;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string tag, name;
    Figure f;
    if (words >> tag >> name >> f.value >> f.unit >> f.runs >> f.iterations && tag == "bench:")
      figures[name] = f;
  }
  return figures;
}

// Nonzero, and below ten seconds: anything else is a broken clock or loop.
constexpr uint64_t kImplausibleNs = 10'000'000'000;

void expect_figures(const XpvRun& run, const std::vector<std::string>& names,
                    const std::string& runs) {
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  auto figures = read_figures(run.out);
  for (const auto& name : names) {
    auto it = figures.find(name);
    if (it == figures.end()) {
      ADD_FAILURE() << "no figure " << name << " in:\n" << run.out;
      continue;
    }
    EXPECT_EQ(it->second.unit, "ns") << name;
    EXPECT_EQ(it->second.runs, runs) << name;
    EXPECT_GT(it->second.value, 0U) << name;
    EXPECT_LT(it->second.value, kImplausibleNs) << name;
  }
  EXPECT_EQ(figures.size(), names.size()) << run.out;
}

TEST(BenchGuests, CpuReportsEveryFigure) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--kernel", build_path("guests/bench-cpu"), "--cmdline",
                        "runs=1 iterations=5 events=2"});
  expect_figures(run,
                 {"null_hypercall", "syscall_roundtrip", "exception_user_ud", "exception_kernel_ud",
                  "exception_user_pf", "event_latency_running", "event_latency_blocked"},
                 "runs=1");
}

TEST(BenchGuests, MmReportsEveryFigure) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--kernel", build_path("guests/bench-mm"), "--cmdline",
                        "runs=1 iterations=8 space_runs=1"});
  expect_figures(run,
                 {"mmu_update_batch512", "mmu_update_batch128", "mmu_update_batch1",
                  "wpt_assist_store", "space_1gib_build", "space_1gib_teardown"},
                 "runs=1");
}

}  // namespace
}  // namespace xpv::test
