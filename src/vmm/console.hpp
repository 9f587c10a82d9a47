// The hypervisor console: what Xen's serial console is to a debug build.
// console_io(CONSOLEIO_write) goes to stdout; CONSOLEIO_read takes bytes
// that are waiting on stdin, without blocking.
#pragma once

#include <cstddef>
#include <mutex>
#include <span>

namespace xpv::vmm {

class Console {
 public:
  void write(std::span<const char> text);
  bool input_waiting();
  // Up to out.size() bytes already available on stdin; 0 when none.
  size_t read_available(std::span<char> out);

 private:
  std::mutex mutex_;
};

}  // namespace xpv::vmm
