// Segment descriptors a PV guest may install in its GDT or LDT (Xen's
// check_descriptor, xen/arch/x86/pv/descriptor-tables.c): code and data
// descriptors, with their DPL raised to 3 because the guest kernel runs in
// ring 3; not-present descriptors, which always fault; nothing else — no
// TSS, LDT or gate descriptors.
#pragma once

#include <cstdint>

namespace xpv::mm {

// Checks `desc`, fixing it up in place; false when it must be refused.
bool check_descriptor(uint64_t& desc);

}  // namespace xpv::mm
