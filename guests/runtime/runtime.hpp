// The test-guest runtime: how a guest starts and how it ends.
//
// _start (entry.S) switches to the runtime's stack and calls
// xpv_guest_start, which runs static constructors and then guest_main().
// Returning 0 from guest_main powers the domain off (SHUTDOWN_poweroff).
// Anything else crashes it (SHUTDOWN_crash), so the host sees the verdict.
#pragma once

#include <cstdint>

#include "runtime/xen.hpp"

// Provided by each guest.
int guest_main();

namespace xpv::guest {

// The start_info page the hypervisor passed in rsi (xen/xen.h, struct
// start_info). It is not called start_info(): with `using namespace
// xpv::guest`, that name would clash with Xen's global struct start_info.
const start_info_t& start_info_page();

// Flushes the console and issues SCHEDOP_shutdown with a SHUTDOWN_* reason.
// If the hypervisor refuses, it yields forever.
[[noreturn]] void shutdown(unsigned reason);

// Prints "PANIC: <message>" on its own line and crashes the domain. Use it
// for "cannot happen" states. Tests should use XPV_EXPECT instead.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* format, ...);

// Translations for the guest image, which is mapped at VIRT_BASE +
// pseudo-physical address. mfn_of reads the P2M in
// start_info_page().mfn_list.
uint64_t pfn_of(const void* kernel_address);
uint64_t mfn_of(const void* kernel_address);

}  // namespace xpv::guest
