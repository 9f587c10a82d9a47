// The Xen public ABI as test guests see it, from Debian's libxen-dev headers.
// Guests include this rather than <xen/...> so that every translation unit
// uses the same interface version; no Xen structure is re-declared here.
#pragma once

#include <cstdint>

// Without a version, the headers fall back to the legacy pre-3.0.2 interface,
// in which __HYPERVISOR_sched_op is sched_op_compat (6) rather than sched_op
// (29) and event_channel_op is event_channel_op_compat (xen/xen.h, "HYPERCALL
// COMPATIBILITY"). Ask for the newest interface these headers describe. The
// top-level CMakeLists.txt defines the same value for the whole build; this
// fallback keeps a guest built on its own correct.
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__
#endif

// clang-format off
#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/version.h>
// clang-format on
