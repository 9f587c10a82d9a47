#include "hv/unimplemented.hpp"

#include <cstdio>
#include <string>

#include "hv/hypercall_names.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

long UnimplementedLog::report(uint64_t hypercall, int64_t sub_op) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = seen_.emplace(hypercall, sub_op).second;
  }
  if (first) {
    std::string what(hypercall_name(hypercall));
    if (what == "unknown") what = "#" + std::to_string(hypercall);
    if (sub_op != kNoSubOp) {
      std::string sub(sub_op_name(hypercall, static_cast<uint64_t>(sub_op)));
      what += " sub-op " +
              (sub.empty() ? std::to_string(sub_op) : sub + " (" + std::to_string(sub_op) + ")");
    }
    std::fprintf(stderr, "xpv: unimplemented hypercall %s: returning -ENOSYS\n", what.c_str());
  }
  return xen::error(XEN_ENOSYS);
}

}  // namespace xpv::hv
