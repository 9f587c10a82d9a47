#include "vmm/console.hpp"

#include <poll.h>
#include <unistd.h>

namespace xpv::vmm {

void Console::write(std::span<const char> text) {
  std::lock_guard lock(mutex_);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;  // a closed stdout must not stop the guest
    done += static_cast<size_t>(n);
  }
}

bool Console::input_waiting() {
  std::lock_guard lock(mutex_);
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

size_t Console::read_available(std::span<char> out) {
  std::lock_guard lock(mutex_);
  pollfd p{STDIN_FILENO, POLLIN, 0};
  if (out.empty() || ::poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) return 0;
  ssize_t n = ::read(STDIN_FILENO, out.data(), out.size());
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace xpv::vmm
