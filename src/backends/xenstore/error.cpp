// xs_wire.h declares xsd_errors only if <errno.h> was included before it,
// so error.hpp (which includes <cerrno>) must come first here.
#include "backends/xenstore/error.hpp"

#include <span>
#include <string>

#include "xen/abi.hpp"

namespace xpv::backends::xenstore {

size_t errno_index(Errno error) {
  for (size_t i = 0; i < kErrnoCount; ++i) {
    if (kAllErrnos[i] == error) return i;
  }
  return 0;  // unreachable: Errno has no other values
}

std::string_view errno_name(Errno error) {
  for (const auto& entry : std::span(xsd_errors)) {
    if (entry.errnum == static_cast<int>(error)) return entry.errstring;
  }
  return "EINVAL";  // unreachable: every Errno is in the table (tested)
}

StoreError::StoreError(std::string_view what, std::string_view path, Errno error)
    : Error("xenstore: " + std::string(what) + " " + std::string(path) + ": " +
            std::string(errno_name(error))),
      error_(error) {}

}  // namespace xpv::backends::xenstore
