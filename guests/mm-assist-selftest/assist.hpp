// The test environment of mm-assist-selftest: an L1 page table of the
// guest's own, pinned and hooked into the kernel's L2, that the tests
// write directly through its read-only mapping, as Linux writes its
// pinned L1s (linux-pv-guest.md 6.3); the pages the tests map with it;
// and a record of the page faults that reach this guest.
#pragma once

#include <cstdint>

#include "mm-common/pte.hpp"
#include "runtime/xen.hpp"

namespace mm_assist {

using namespace guest_pte;  // kPresent, kKernelRW, ...

// #PF error code bits, as Xen reports a guest kernel fault (U clear).
constexpr uint64_t kPfPresent = 1ULL << 0;
constexpr uint64_t kPfWrite = 1ULL << 1;

// The entry as the hypervisor stores it.
constexpr uint64_t as_stored(uint64_t entry) {
  return (entry & kPresent) != 0 && (entry & kUser) == 0 ? entry | kUser | kGuestKernel : entry;
}

// Installs the #PF handler, turns the assist on, builds the test L1 and
// maps shared_info with it (for the CR2 of faults). Panics on failure.
void set_up();

// The test L1: its entries (read through the read-only kernel mapping),
// where entry i sits, and the address it maps.
constexpr unsigned kSharedInfoSlot = 511;  // set_up's; the tests use the others
uint64_t* test_l1();
uint64_t test_l1_mfn();
uint64_t l1_entry(unsigned index);
uint64_t mapped_va(unsigned index);

// The kernel's L2 for VIRT_BASE (read-only, never emulated), and the
// entry of a bootstrap L1 that maps a kernel address.
uint64_t* kernel_l2();
uint64_t* bootstrap_l1_entry(const void* kernel_address);
// The kernel VA of an L4 ... L1 the guest reaches from pt_base.
uint64_t* kernel_va_of_mfn(uint64_t mfn);

// An entry that maps the frame of the kernel page at `page`.
uint64_t entry_for(const void* page, uint64_t flags);

long vm_assist_writable_pagetables(bool on);
long invlpg(uint64_t va);

// Checks of Xen behaviour that xpv does not match yet run only when the
// command line holds the word "check=NAME", so that the default run stays
// green; their host tests are DISABLED_ until xpv is fixed. Otherwise
// this prints a note and returns false, and the test returns.
bool known_bug_check_enabled(const char* name);

// Page faults that reached this guest's handler since set_up. The handler
// resumes each as a return from the probe that faulted (probes.S).
struct PageFault {
  uint64_t error_code;
  uint64_t rip;
  uint64_t cr2;  // vcpu_info.arch.cr2
};
unsigned fault_count();
const PageFault& last_fault();

}  // namespace mm_assist

// probes.S: one store each, as named; see there.
extern "C" {
void mm_store64(uint64_t* p, uint64_t value);
void mm_store64_zero(uint64_t* p);
void mm_store64_minus_one(uint64_t* p);
void mm_store32(uint32_t* p, uint32_t value);
void mm_store16(uint16_t* p, uint16_t value);
uint64_t mm_load64(const uint64_t* p);
uint64_t mm_xchg64(uint64_t* p, uint64_t value);
uint64_t mm_cmpxchg64(uint64_t* p, uint64_t expected, uint64_t desired, uint8_t* swapped);
void mm_clear_rw(uint64_t* p);
void mm_set_rw(uint64_t* p);
bool mm_test_and_clear_accessed(uint64_t* p);
bool mm_test_and_set_rw(uint64_t* p);

// The store instruction of each probe (a #PF's rip).
extern const char mm_store64_site[], mm_store64_zero_site[], mm_store64_minus_one_site[],
    mm_store32_site[], mm_store16_site[], mm_load64_site[], mm_xchg64_site[], mm_cmpxchg64_site[],
    mm_clear_rw_site[], mm_set_rw_site[], mm_test_and_clear_accessed_site[],
    mm_test_and_set_rw_site[];
}
