#include <cstdarg>

#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

namespace {

const start_info_t* boot_start_info = nullptr;

// Defined by guest.ld. The address of the symbol VIRT_BASE is the value
// VIRT_BASE.
using Constructor = void (*)();
extern "C" const Constructor xpv_init_array_begin[];
extern "C" const Constructor xpv_init_array_end[];
extern "C" const char VIRT_BASE[];

// Nothing else runs static constructors: there is no libc.
void run_static_constructors() {
  for (const Constructor* constructor = xpv_init_array_begin; constructor != xpv_init_array_end;
       ++constructor) {
    (*constructor)();
  }
}

}  // namespace

// Called by _start (entry.S) on the runtime's stack.
extern "C" [[noreturn]] void xpv_guest_start(const start_info_t* info) {
  boot_start_info = info;
  run_static_constructors();
  int status = guest_main();
  if (status != 0) xpv::guest::printk("guest_main returned %d\n", status);
  xpv::guest::shutdown(status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}

namespace xpv::guest {

const start_info_t& start_info_page() {
  return *boot_start_info;
}

void shutdown(unsigned reason) {
  console_flush();
  sched_shutdown(reason);
  // SCHEDOP_shutdown returns only if the hypervisor refused it. Yielding in
  // a loop keeps the vCPU from spinning a host CPU at full speed.
  for (;;)
    sched_yield();
}

void panic(const char* format, ...) {
  print("PANIC: ");
  va_list args;
  va_start(args, format);
  vprintk(format, args);
  va_end(args);
  print("\n");
  shutdown(SHUTDOWN_crash);
}

uint64_t pfn_of(const void* kernel_address) {
  return (reinterpret_cast<uintptr_t>(kernel_address) - reinterpret_cast<uintptr_t>(VIRT_BASE)) >>
         12;
}

uint64_t mfn_of(const void* kernel_address) {
  return reinterpret_cast<const xen_pfn_t*>(start_info_page().mfn_list)[pfn_of(kernel_address)];
}

}  // namespace xpv::guest
