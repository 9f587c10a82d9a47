// What the user asked for: the inputs of `xpv run` and, later, of a
// domain configuration file.
#pragma once

#include <cstdint>
#include <string>

namespace xpv::vmm {

struct DomainConfig {
  std::string name = "domU";
  std::string kernel;
  std::string ramdisk;
  std::string cmdline;
  uint64_t memory_mib = 256;
  unsigned vcpus = 1;
  bool trace = false;  // one line per hypercall on stderr
};

}  // namespace xpv::vmm
