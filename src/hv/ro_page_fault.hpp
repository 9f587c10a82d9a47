// The writable-pagetable assist (xen.h VMASST_TYPE_writable_pagetables):
// a PV kernel may store to its own L1 page tables through their read-only
// mappings, and the hypervisor emulates each store as a validated update
// (linux-pv-guest.md 6.3; Xen's pv_ro_page_fault and ptwr_emulated_update
// in xen/arch/x86/pv/ro-page-fault.c).
#pragma once

#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// A write fault from guest kernel mode on a present, read-only mapping of
// an L1-typed frame, with VMASST_TYPE_writable_pagetables on: decode,
// compute, validate, write, advance rip. True if handled; false leaves
// the #PF to be delivered to the guest, as Xen does when the instruction
// or the entry it would write is refused.
bool emulate_ro_page_fault(vmm::Vcpu& vcpu, uint64_t error_code, uint64_t cr2);

}  // namespace xpv::hv
