// The hypercall page a kernel asks for with XEN_ELFNOTE_HYPERCALL_PAGE:
// 128 stubs of 32 bytes, stub i making hypercall i with `syscall` while
// preserving rcx/r11, as Xen writes it for a 64-bit PV guest
// (linux-pv-guest.md §1.6). Newer Linux kernels ignore it and issue
// `syscall` themselves; xpv's test guests use it.
#pragma once

#include <cstdint>
#include <span>

namespace xpv::domain {

constexpr unsigned kHypercallStubSize = 32;
void write_hypercall_page(std::span<uint8_t, 4096> page);

}  // namespace xpv::domain
