// Runs until the host destroys it: prints "spinning", then yields forever.
// The host tests use it to check that SIGINT and SIGTERM end a domain that
// never shuts itself down. Yielding keeps the vCPU from burning a host CPU
// while still exiting to xpv on every iteration.
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"

int guest_main() {
  xpv::guest::print("spinning\n");
  for (;;)
    xpv::guest::sched_yield();
}
