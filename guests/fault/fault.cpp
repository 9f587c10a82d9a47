// Raises the fault its command line names, so that the host can check how
// xpv reports an exception the guest cannot handle. Until exceptions are
// delivered to the guest's trap table, each one crashes the domain.
//
//   ud2          #UD: an undefined opcode
//   pf           #PF: a read from an unmapped user-half address
//   int3         #BP: a breakpoint (its gate is open to CPL3, as on Xen)
//   gp           #GP: hlt, a privileged instruction the guest kernel runs at
//                CPL3 and xpv does not emulate
//   read:ADDR    reads 8 bytes at hex ADDR; powers off if that works
//   write:ADDR   writes 8 bytes at hex ADDR; powers off if that works
//
// read: and write: let the host probe which hypervisor pages a guest may
// touch (the monitor's are supervisor-only, the M2P is read-only).
#include <cstdint>

#include "runtime/console.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

namespace {

using xpv::guest::print;
using xpv::guest::printk;

constexpr uint64_t kUnmappedAddress = 0x1000;  // no INIT_P2M, so the user half is empty

bool is(const char* command, const char* name) {
  return strlen(command) == strlen(name) && memcmp(command, name, strlen(name)) == 0;
}

// "prefix:HEX" -> true and the address.
bool parse_address(const char* command, const char* prefix, uint64_t* address) {
  size_t length = strlen(prefix);
  if (memcmp(command, prefix, length) != 0 || command[length] == '\0') return false;
  *address = 0;
  for (const char* c = command + length; *c != '\0'; ++c) {
    unsigned digit;
    if (*c >= '0' && *c <= '9') {
      digit = static_cast<unsigned>(*c - '0');
    } else if (*c >= 'a' && *c <= 'f') {
      digit = static_cast<unsigned>(*c - 'a' + 10);
    } else if (*c == 'x' && c == command + length + 1 && command[length] == '0') {
      continue;  // a 0x prefix
    } else {
      return false;
    }
    *address = *address << 4 | digit;
  }
  return true;
}

// The announcement goes out before the fault, so the host sees which fault
// the crash report belongs to.
void announce(const char* what) {
  printk("fault: about to %s\n", what);
  xpv::guest::console_flush();
}

}  // namespace

int guest_main() {
  // start_info declares cmd_line int8_t[] (xen.h).
  const char* command = reinterpret_cast<const char*>(xpv::guest::start_info_page().cmd_line);
  uint64_t address = 0;
  if (is(command, "ud2")) {
    announce("execute ud2");
    asm volatile("ud2");
  } else if (is(command, "pf")) {
    announce("read from unmapped address 0x1000");
    (void)*reinterpret_cast<const volatile uint64_t*>(kUnmappedAddress);
  } else if (is(command, "int3")) {
    announce("execute int3");
    asm volatile("int3");
  } else if (is(command, "gp")) {
    announce("execute hlt");
    asm volatile("hlt");
  } else if (parse_address(command, "read:", &address)) {
    announce(command);
    uint64_t value = *reinterpret_cast<const volatile uint64_t*>(address);
    printk("fault: read %#lx did not fault: %#lx\n", address, value);
    return 0;
  } else if (parse_address(command, "write:", &address)) {
    announce(command);
    *reinterpret_cast<volatile uint64_t*>(address) = 0;
    printk("fault: write %#lx did not fault\n", address);
    return 0;
  } else {
    printk("fault: unknown fault \"%s\"; use ud2, pf, int3, gp, read:ADDR or write:ADDR\n",
           command);
    return 1;
  }
  print("fault: the fault did not stop the guest\n");
  return 1;
}
