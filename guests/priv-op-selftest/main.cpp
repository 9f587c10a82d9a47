// priv-op-selftest: the privileged instructions a PV kernel executes at
// CPL3 and the hypervisor emulates (rdmsr/wrmsr, control registers, port
// I/O, cli/sti, ...), and physdev_op, tested from inside the guest.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace priv_op {
uint64_t early_lstar = ~0ULL;
}

int guest_main() {
  using namespace priv_op;
  // Before the guest has a #GP handler, Xen reads refused MSRs as 0
  // ("faking RDMSR"); a #GP here would crash the domain.
  early_lstar = rdmsr(0xc0000082);
  long rc = install_trap_table();
  if (rc != 0) xpv::guest::panic("set_trap_table failed: %ld", rc);
  return xpv::guest::run_all_tests();
}
