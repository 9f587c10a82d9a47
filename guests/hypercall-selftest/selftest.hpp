// Shared helpers for the hypercall self-test: the addresses a hypercall must
// refuse, the command-line options the host test passes, and a read-only
// view of the domain's page tables, P2M and M2P.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/hypercall.hpp"
#include "runtime/xen.hpp"

// runtime/xen.hpp has pinned the interface version, so these see the same
// ABI as the runtime.
// clang-format off
#include <xen/memory.h>
// clang-format on

namespace selftest {

// Guest addresses that no hypercall may read or write (Xen's copy_*_guest
// fails with -EFAULT): an unmapped user-half page (this guest has no
// INIT_P2M, so nothing below the kernel mapping is mapped), the start of the
// hypervisor hole (HYPERVISOR_VIRT_START, L4 slot 256) and a non-canonical
// address.
constexpr uint64_t kUnmappedUserAddress = 0x1000;
constexpr uint64_t kHoleAddress = HYPERVISOR_VIRT_START;
constexpr uint64_t kNonCanonicalAddress = 0x8000000000000000;
constexpr uint64_t kBadAddresses[] = {kUnmappedUserAddress, kHoleAddress, kNonCanonicalAddress};

// --- The command line (start_info.cmd_line) -------------------------------
// The host test passes space-separated words: "name" or "name=value".

// start_info.cmd_line as text.
const char* command_line();
// The text after "name=", up to the next space (not NUL-terminated), or
// nullptr.
const char* option_value(const char* name, size_t* length);
// The decimal value of "name=N"; false if absent or not a number.
bool option_number(const char* name, uint64_t* value);

// Checks of Xen behaviour that xpv does not match yet. Each one runs only
// when the command line says "check=NAME", so that the default run stays
// green; its host test is DISABLED_ until the xpv bug is fixed. Returns
// false (and prints a note) when the check should be skipped.
bool known_bug_check_enabled(const char* name);

// --- Memory ------------------------------------------------------------------

// VIRT_BASE, where pseudo-physical address 0 is mapped (guest.ld).
uint64_t virt_base();
uint64_t kernel_va_of_pfn(uint64_t pfn);

// start_info.mfn_list, the P2M: pfn -> mfn.
const xen_pfn_t* p2m();

// XENMEM_machphys_mapping, fetched once.
const xen_machphys_mapping_t& machphys_mapping();
// M2P[mfn] as the guest reads it at machphys_mapping().v_start, or ~0 when
// mfn is past max_mfn.
uint64_t m2p(uint64_t mfn);

// The page-table entries that map `va`, read from the guest's own view of
// its tables: start at pt_base and follow each entry's MFN through the M2P
// to the table's kernel VA. entry[3] is the L4 entry, entry[0] the L1 entry;
// levels below a non-present entry stay 0. `ok` is false if a table could
// not be reached through the kernel mapping.
struct Walk {
  uint64_t entry[4] = {};
  bool ok = false;
  uint64_t l1() const { return entry[0]; }
  bool mapped() const { return ok && (entry[0] & kPresent) != 0; }
  uint64_t mfn() const { return (entry[0] & kAddressMask) >> 12; }

  static constexpr uint64_t kPresent = 1ULL << 0;
  static constexpr uint64_t kWritable = 1ULL << 1;
  static constexpr uint64_t kAddressMask = 0x000ffffffffff000ULL;
};
Walk walk(uint64_t va);

// The kernel VA of a page-table frame given its MFN, or 0.
const uint64_t* table_of(uint64_t mfn);

// The end of the initial kernel mapping (virt_pgtab_end): the first page
// at or above VIRT_BASE that the bootstrap tables do not map.
uint64_t kernel_mapping_end();

// Helpers for C strings in fixed-size Xen buffers.
bool is_nul_terminated(const char* text, size_t size);
bool equals(const char* text, const char* expected);

}  // namespace selftest
