// Where xpv puts things: the machine (guest-physical) address space of a
// domain and the virtual layout of the hypervisor hole that xpv maps into
// every guest address space.
#pragma once

#include <cstdint>

#include "xen/abi.hpp"

namespace xpv::monitor {

// --- Machine address space -------------------------------------------------
// Guest RAM starts at machine frame 0x1000 (16 MiB), so a guest that mixes
// up its pseudo-physical and machine frame numbers fails at once, as on Xen.
constexpr uint64_t kRamBaseMfn = 0x1000;
constexpr uint64_t kMaxGuestRamBytes = 64ULL << 30;
// xpv's own frames (monitor, M2P, shared_info) sit above any guest RAM.
constexpr uint64_t kHypervisorBaseMfn = (128ULL << 30) >> 12;
static_assert(kRamBaseMfn + (kMaxGuestRamBytes >> 12) <= kHypervisorBaseMfn);

// --- The hypervisor hole: L4 slots 256-271 --------------------------------
// Slot 256 is never used: KVM-PVM hosts reserve it (PLATFORM.md).
constexpr uint64_t l4_slot_va(unsigned slot) {
  uint64_t va = static_cast<uint64_t>(slot) << 39;
  return (va & (1ULL << 47)) != 0 ? (va | 0xffff000000000000ULL) : va;
}
constexpr unsigned kFirstHoleSlot = 256;
constexpr unsigned kLastHoleSlot = 271;
constexpr unsigned kMonitorSlot = 257;  // monitor code, tables, stacks: supervisor-only
constexpr unsigned kM2pSlot = 258;      // read-only machine-to-phys table, guest-readable
// Every machine frame of the domain, writable, supervisor-only: the monitor
// stores through it so that KVM's shadow MMU sees xpv's page-table writes.
constexpr unsigned kDirectMapSlot = 259;
constexpr uint64_t kMonitorVa = l4_slot_va(kMonitorSlot);
constexpr uint64_t kM2pVa = l4_slot_va(kM2pSlot);
constexpr uint64_t kDirectMapVa = l4_slot_va(kDirectMapSlot);
constexpr uint64_t direct_map_va(uint64_t machine_address) {
  return kDirectMapVa + machine_address;
}
static_assert((kHypervisorBaseMfn << 12) * 2 <= (1ULL << 39), "the direct map is one L4 slot");

constexpr bool in_hole(uint64_t va) {
  return va >= l4_slot_va(kFirstHoleSlot) && va < l4_slot_va(kLastHoleSlot + 1);
}

// Injected with KVM_INTERRUPT to bring a running vCPU into the monitor so
// that xpv can deliver an event; guest `int $0xf0` cannot fake it (its
// gate has DPL 0, so the guest gets #GP instead).
constexpr unsigned kKickVector = 0xf0;

// --- Monitor virtual layout -------------------------------------------------
constexpr uint64_t kTextVa = kMonitorVa;  // two pages: ring-0 stubs, then syscall trampolines
constexpr uint64_t kIdtVa = kMonitorVa + 0x2000;
constexpr uint64_t kVcpuAreasVa = kMonitorVa + 0x100000;
constexpr uint64_t kVcpuAreaSize = 0x40000;
constexpr unsigned kMaxVcpus = XEN_LEGACY_MAX_VCPUS;

// Per-vCPU area. The GDT has Xen's shape: 14 pages of guest descriptors,
// then the page holding Xen's reserved selectors (xen.h FIRST_RESERVED_GDT_*).
constexpr uint64_t kGdtOffset = 0;
constexpr unsigned kGuestGdtPages = FIRST_RESERVED_GDT_PAGE;
constexpr uint64_t kGdtLimit = FIRST_RESERVED_GDT_BYTE + 0x1000 - 1;
constexpr uint64_t kTssOffset = 0x10000;
constexpr uint64_t kStackOffset = 0x11000;
constexpr unsigned kStackPages = 2;
constexpr uint64_t kStackTopOffset = kStackOffset + kStackPages * 0x1000;
// The guest's LDT (MMUEXT_SET_LDT): up to 8192 descriptors, its frames
// mapped here as Xen maps them in its per-vCPU area, out of the guest's reach.
constexpr unsigned kMaxLdtEntries = 8192;
constexpr uint64_t kLdtOffset = 0x20000;
constexpr unsigned kLdtPages = kMaxLdtEntries * 8 / 0x1000;
static_assert(kStackTopOffset <= kLdtOffset && kLdtOffset + kLdtPages * 0x1000ULL <= kVcpuAreaSize);

constexpr uint64_t vcpu_area_va(unsigned vcpu) {
  return kVcpuAreasVa + vcpu * kVcpuAreaSize;
}

// Selectors in the reserved GDT page. The ring-3 ones are Xen's ABI
// (xen-x86_64.h FLAT_RING3_*); the ring-0 ones are the monitor's own, laid
// out so that STAR's sysret base (0xe023) yields FLAT_RING3_CS64/SS64.
constexpr uint16_t kMonitorCs = 0xe008;
constexpr uint16_t kMonitorDs = 0xe010;
constexpr uint16_t kTssSelector = 0xe040;
constexpr uint16_t kLdtSelector = 0xe050;  // Xen's LDT_SELECTOR
static_assert(FLAT_RING3_CS32 + 8 == FLAT_RING3_SS64 && FLAT_RING3_CS32 + 16 == FLAT_RING3_CS64);

constexpr unsigned reserved_gdt_index(uint16_t selector) {
  return (selector >> 3) - FIRST_RESERVED_GDT_ENTRY;
}

}  // namespace xpv::monitor
