// Runs the real `xpv` binary on a guest, as a user would, and captures
// what it prints and how it exits. Guest tests need /dev/kvm; without it
// they fail and say so.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace xpv::test {

struct XpvRun {
  int exit_status = -1;  // -1: killed by the timeout
  std::string out;       // guest console (stdout)
  std::string err;       // xpv's own messages (stderr)
  // When stdout grew, on the host's clock: (its size after a read,
  // seconds since xpv started), in order.
  std::vector<std::pair<size_t, double>> out_arrivals;
};

// Seconds after start at which stdout byte `offset` reached the host.
double arrival_seconds(const XpvRun& run, size_t offset);

// `xpv` with `args`, killed after `timeout_seconds`.
XpvRun run_xpv(const std::vector<std::string>& args, int timeout_seconds = 60,
               const std::string& stdin_text = "");

std::string build_path(const std::string& relative);  // under the CMake build tree

// Fails the current test when /dev/kvm cannot be opened.
bool require_kvm();

// A test guest's verdict: its `N passed, M failed` summary line
// (guests/runtime/test.hpp).
struct Verdict {
  bool found = false;
  int passed = 0;
  int failed = 0;
};
Verdict read_verdict(const std::string& out);

// The guest's "[ FAIL ]" lines and the indented details before them.
std::string failures(const std::string& out);

// The guest printed its summary with at least `min_passed` passes and no
// failure, and powered off.
void expect_all_pass(const XpvRun& run, int min_passed = 1);

}  // namespace xpv::test
