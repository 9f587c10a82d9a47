// The guest side of exception delivery: a trap table of the runtime's
// entry stubs (runtime/traps.hpp), whose dispatcher lets the running test
// look at (and change) the TrapFrame. Also the probes: code at known addresses that raises one
// exception each, and the iret probe.
#pragma once

#include <cstdint>
#include "runtime/traps.hpp"
#include "runtime/xen.hpp"

namespace cpu_selftest {

using xpv::guest::resume_at_try_landing;
using xpv::guest::TrapFrame;
using xpv::guest::try_run;

namespace rflags {
constexpr uint64_t kCf = 1ULL << 0;
constexpr uint64_t kTf = 1ULL << 8;
constexpr uint64_t kIf = 1ULL << 9;
constexpr uint64_t kDf = 1ULL << 10;
constexpr uint64_t kIopl = 3ULL << 12;
constexpr uint64_t kNt = 1ULL << 14;
constexpr uint64_t kRf = 1ULL << 16;
constexpr uint64_t kAc = 1ULL << 18;
}  // namespace rflags

// Exception vectors (Intel SDM vol. 3, table 6-1).
enum Vector : unsigned {
  kDivideError = 0,
  kDebug = 1,
  kBreakpoint = 3,
  kInvalidOpcode = 6,
  kDeviceNotAvailable = 7,
  kGeneralProtection = 13,
  kPageFault = 14,
  kX87FloatingPoint = 16,
  kSimdFloatingPoint = 19,
  kSoftwareInterrupt = 0x80,  // the int $0x80 the probes use
  // Not vectors: the callbacks enter the runtime's trap_common too.
  kEventUpcall = xpv::guest::kEventUpcallVector,
  kFailsafe = xpv::guest::kFailsafeVector,
  kSystemCall = xpv::guest::kSystemCallVector,
};

// A kernel-mode bounce frame's CS: FLAT_KERNEL_CS64 with the RPL cleared.
constexpr uint64_t kKernelModeCs = FLAT_KERNEL_CS64 & ~3ULL;

// trap_info flags (xen.h): bits 0-1 DPL, bit 2 "mask events on entry".
constexpr uint8_t kTrapMaskEvents = 4;

// Installs a handler for vectors 0-21 and 0x80: DPL 3 for #BP and #OF, 0
// elsewhere, events left as they are on entry. Returns set_trap_table's
// result.
long install_trap_table();
// Sets one vector's trap_info flags, keeping its handler.
long set_trap_flags(unsigned vector, uint8_t flags);

// A test's handler. With none installed, the dispatcher resumes an active
// xpv_try (returning kTrapped + vector), returns from #BP as is, and panics
// on anything else.
using TrapHandler = void (*)(TrapFrame&);

class ScopedTrapHandler {
 public:
  ScopedTrapHandler(unsigned vector, TrapHandler handler);
  ~ScopedTrapHandler();
  ScopedTrapHandler(const ScopedTrapHandler&) = delete;
  ScopedTrapHandler& operator=(const ScopedTrapHandler&) = delete;

 private:
  unsigned vector_;
  TrapHandler previous_;
};

// Every delivery is logged as the hypervisor delivered it (before the
// handler changed anything): the frame and where it was.
struct TrapLogEntry {
  TrapFrame frame;
  uint64_t address;  // of the TrapFrame; the bounce frame is its tail
  unsigned depth;    // 0 for a trap from the test, 1 inside a handler...

  // One past the bounce frame's last slot (ss). The hypervisor puts it at
  // the interrupted rsp rounded down to 16 bytes.
  uint64_t frame_top() const { return address + sizeof(TrapFrame); }
};
constexpr unsigned kTrapLogSize = 8;
void clear_trap_log();
unsigned trap_count();  // deliveries since clear_trap_log
const TrapLogEntry& trap_log(unsigned index);
const TrapFrame& last_trap();
unsigned trap_depth();  // handlers running now

// The iret_context.flags for the return from the trap being handled.
void set_next_iret_flags(uint64_t flags);

// try_run(body) returns 0, or kTrapped + vector when an exception ended
// it (with no test handler installed for that vector): the default
// handler's resume_at_try_landing.
constexpr long kTrapped = 0x1000;

// Changes the upcall mask through the iret hypercall (a trap whose
// handler edits the saved RFLAGS.IF), and reads it through the CS of an
// int3 frame.
void set_upcall_mask(bool masked);
uint8_t upcall_mask();

}  // namespace cpu_selftest

extern "C" {
void xpv_probe_int3();
void xpv_probe_ud2();
void xpv_probe_divide_error();
void xpv_probe_icebp();
void xpv_probe_single_step();
void xpv_probe_hlt();
void xpv_probe_cli();
void xpv_probe_int80();
uint64_t xpv_probe_load(const uint64_t* address);
void xpv_probe_store(uint64_t* address, uint64_t value);
void xpv_probe_fnop();
void xpv_probe_pxor();
void xpv_probe_x87_exception();
void xpv_probe_simd_exception();
void xpv_probe_forced_cpuid(uint32_t leaf, uint32_t out[4]);
void xpv_probe_bad_forced_cpuid();
void xpv_probe_registers(const uint64_t in[15], uint64_t out[15]);
uint64_t xpv_probe_rflags_int3(uint64_t rflags);
void xpv_probe_int3_with_rsp(uint64_t rsp);

// What xpv_probe_iret found at its resume label.
struct IretResult {
  uint64_t rax, rcx, r11, rflags, rsp;
};
void xpv_probe_iret(const iret_context* context, IretResult* result);

// Labels inside the probes (entry.S): compare with a frame's rip.
extern const char xpv_probe_int3_resume[], xpv_probe_ud2_site[], xpv_probe_divide_error_site[],
    xpv_probe_icebp_resume[], xpv_probe_single_step_trap[], xpv_probe_hlt_site[],
    xpv_probe_cli_site[], xpv_probe_int80_site[], xpv_probe_int80_resume[], xpv_probe_load_site[],
    xpv_probe_store_site[], xpv_probe_fnop_site[], xpv_probe_pxor_site[],
    xpv_probe_bad_forced_cpuid_site[], xpv_probe_iret_resume[], xpv_probe_x87_exception_site[],
    xpv_probe_simd_exception_site[];
}

namespace cpu_selftest {

inline uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

}  // namespace cpu_selftest
