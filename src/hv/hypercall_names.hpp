// Names of Xen hypercalls, their sub-operations and shutdown reasons, for
// traces, logs and crash reports. Each name is the lower-case suffix of the
// constant in Xen's public headers (__HYPERVISOR_set_trap_table is
// "set_trap_table"), so a reader can grep the ABI for it.
#pragma once

#include <cstdint>
#include <string_view>

namespace xpv::hv {

// The hypercall with number `nr`, or "unknown": callers print the number.
std::string_view hypercall_name(uint64_t nr);

// The sub-operation `cmd` of hypercall `nr` (SCHEDOP_*, XENVER_*, XENMEM_*,
// CONSOLEIO_*, VMASST_CMD_*, EVTCHNOP_*, VCPUOP_*, GNTTABOP_*, PHYSDEVOP_*,
// CALLBACKOP_*), or "" when the hypercall takes no command argument
// (mmuext_op and multicall are batches) or `cmd` is unknown.
std::string_view sub_op_name(uint64_t nr, uint64_t cmd);

// The SHUTDOWN_* reason of SCHEDOP_shutdown, or "unknown".
std::string_view shutdown_reason_name(unsigned reason);

}  // namespace xpv::hv
