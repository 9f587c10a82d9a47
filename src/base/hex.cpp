#include "base/hex.hpp"

#include <cinttypes>
#include <cstdio>

namespace xpv {

std::string to_hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%" PRIx64, value);
  return text;
}

}  // namespace xpv
