// The hypercall self-test: checks from inside a domain every hypercall xpv
// implements, against Xen's semantics and error codes, and the initial
// domain state a Linux PV kernel relies on. Tests run in link order (see
// guests/CMakeLists.txt); the summary line is what the host test reads.
//
// Command-line words (all optional):
//   nr_pages=N           start_info.nr_pages must be N
//   console-input=TEXT   "TEXT\n" is waiting on xpv's stdin
//   check=NAME           also run the check of a known xpv divergence
#include "hypercall-selftest/selftest.hpp"
#include "runtime/console.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

int guest_main() {
  xpv::guest::printk("hypercall-selftest: cmd_line \"%s\"\n", selftest::command_line());
  return xpv::guest::run_all_tests();
}
