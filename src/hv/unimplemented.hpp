// Hypercalls and sub-ops xpv does not implement return Xen's -ENOSYS and
// are logged once each, by name, so a guest's needs show up in the log
// without flooding it.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <utility>

namespace xpv::hv {

class UnimplementedLog {
 public:
  // Logs "unimplemented hypercall NAME" (or "NAME sub-op NAME") the first
  // time a (hypercall, sub-op) pair is seen; returns -ENOSYS.
  long report(uint64_t hypercall, int64_t sub_op = kNoSubOp);

  static constexpr int64_t kNoSubOp = -1;

 private:
  std::mutex mutex_;
  std::set<std::pair<uint64_t, int64_t>> seen_;
};

}  // namespace xpv::hv
