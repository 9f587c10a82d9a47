// cpu-selftest: exception delivery, the iret hypercall, callbacks,
// segment bases and the FPU switch, tested from inside a PV guest kernel.
//
// The command line picks what runs (tests/guest/cpu_selftest_test.cpp):
//   (empty)          every XPV_TEST; the guest powers off if all pass
//   check=NAME       also a check of Xen behaviour xpv does not match yet
//   nohandler        ud2 with no trap table: xpv must crash the domain
//   cleared          install the table, clear it with set_trap_table(NULL),
//                    then ud2: the same crash
//   badstack         int3 with rsp at an unmapped page: xpv must crash the
//                    domain, for it cannot write the bounce frame
//   holestack        the same with rsp inside Xen's reserved hole
//   nofailsafe       a selector in %fs stops loading with no failsafe
//                    callback registered: xpv must crash the domain
#include "cpu-selftest/ldt.hpp"
#include "cpu-selftest/options.hpp"
#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

int guest_main() {
  using namespace cpu_selftest;
  using namespace xpv::guest;
  if (has_option("nohandler")) {
    xpv_probe_ud2();
    panic("ud2 returned without a trap table");
  }
  long rc = install_trap_table();
  if (rc != 0) panic("set_trap_table failed: %ld", rc);
  if (has_option("cleared")) {
    hypercall(__HYPERVISOR_set_trap_table, 0);
    xpv_probe_ud2();
    panic("ud2 returned after set_trap_table(NULL)");
  }
  if (has_option("badstack")) xpv_probe_int3_with_rsp(0x1000);
  if (has_option("holestack")) xpv_probe_int3_with_rsp(HYPERVISOR_VIRT_START + 0x1000);
  if (has_option("badstack") || has_option("holestack"))
    panic("int3 returned from a stack the hypervisor cannot write");
  if (has_option("nofailsafe")) {
    provoke_failsafe();
    panic("a segment that no longer loads went unnoticed");
  }
  return run_all_tests();
}
