// The first test guest. It checks the boot path end to end: the ELF notes,
// the entry point, the hypercall page, CONSOLEIO_write, XENVER_version and
// SCHEDOP_shutdown.
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

int guest_main() {
  using namespace xpv::guest;
  print("Hello from an xpv PV guest!\n");
  long version = xen_version(XENVER_version, nullptr);
  if (version < 0) {
    printk("XENVER_version failed: %ld\n", version);
    return 1;
  }
  printk("Xen version %ld.%ld\n", version >> 16, version & 0xffff);
  return 0;
}
