// The Xen x86-64 PV ABI, from Debian's libxen-dev headers. Every Xen
// structure and constant xpv uses comes through this header; none is
// re-declared by hand.
#pragma once

#include <cstdint>

// The build defines __XEN_INTERFACE_VERSION__ as the latest interface
// (top-level CMakeLists.txt); the legacy default renumbers hypercalls.
#ifndef __XEN_INTERFACE_VERSION__
#error "__XEN_INTERFACE_VERSION__ must be set to __XEN_LATEST_INTERFACE_VERSION__"
#endif

// clang-format off
#include <xen/xen.h>
#include <xen/callback.h>
#include <xen/elfnote.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>
// clang-format on

static_assert(__HYPERVISOR_sched_op != __HYPERVISOR_sched_op_compat &&
                  __HYPERVISOR_event_channel_op != __HYPERVISOR_event_channel_op_compat &&
                  __HYPERVISOR_physdev_op != __HYPERVISOR_physdev_op_compat,
              "the Xen headers were included with a legacy __XEN_INTERFACE_VERSION__");

namespace xpv::xen {

// Xen's hypercall results are negative Xen errnos (xen/errno.h).
constexpr long error(int xen_errno) {
  return -static_cast<long>(xen_errno);
}

constexpr uint64_t kPageSize = 4096;
constexpr unsigned kPageShift = 12;

}  // namespace xpv::xen
