// Numbers in messages: addresses, registers, entries.
#pragma once

#include <cstdint>
#include <string>

namespace xpv {

// "0x1f": lower-case hexadecimal with its prefix.
std::string to_hex(uint64_t value);

}  // namespace xpv
