#include "base/error.hpp"

#include <cstring>

namespace xpv {

SystemError::SystemError(const std::string& what, int err)
    : Error(what + ": " + std::strerror(err)), code_(err) {}

}  // namespace xpv
