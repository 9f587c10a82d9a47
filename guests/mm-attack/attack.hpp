// mm-attack: a hostile PV guest. Each test tries one way out of the
// domain's memory through the direct-paging interface and checks that
// xpv refuses it with the error Xen returns (xen/arch/x86/mm.c,
// xen/common/memory.c; cited per test) and that nothing changed: the
// entry still holds what it held, the frame keeps its type, the
// reservation its count.
//
// grants.cpp tries the same through the grant table (common/grant_table.c):
// forged grants, frames not owned, page tables made writable.
#pragma once

#include <cstdint>

#include "mm-common/paging.hpp"

namespace mm_attack {

// The scratch L1 that main links into the kernel's L2.
mm::ScratchL1& scratch();

// Stores `value` at `p`; a #PF instead ends the store and is recorded.
struct Fault {
  unsigned count;
  uint64_t error_code;
  uint64_t rip;
};
Fault faults();
void store(uint64_t* p, uint64_t value);
bool is_store_site(uint64_t rip);

// A frame of the hypervisor the guest can name: the one its L4's
// hypervisor slot `slot` (257 the monitor, 258 the M2P) points at.
uint64_t hypervisor_frame(unsigned slot);
// One past the last machine frame of the domain's RAM.
uint64_t end_of_ram_mfn();

}  // namespace mm_attack

extern "C" {
void mm_attack_store(uint64_t* p, uint64_t value);
void mm_attack_page_fault_entry();
extern const char mm_attack_store_site[];
extern uint64_t mm_attack_fault_error_code, mm_attack_fault_rip;
extern uint32_t mm_attack_fault_count;
}
