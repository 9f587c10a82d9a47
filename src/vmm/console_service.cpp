#include "vmm/console_service.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>

#include "vmm/domain.hpp"

namespace xpv::vmm {

ConsoleService::ConsoleService(Domain& domain, uint64_t mfn, evtchn_port_t port)
    : domain_(domain),
      port_(port),
      backend_(domain.ram().frame(mfn), backends::console::fd_output_sink(STDOUT_FILENO)) {
  if (domain.event_channels().connect_host_peer(port, [this] { on_guest_send(); }) != 0)
    throw Error("cannot connect the console backend to port " + std::to_string(port));
}

ConsoleService::~ConsoleService() {
  stop_input();
  terminal_.reset();  // the terminal as it was before
}

// Input starts when the guest first uses its ring: guests that never do
// (xpv's test guests) keep stdin for console_io reads.
void ConsoleService::on_guest_send() {
  std::call_once(input_started_, [this] { start_input(); });
  poll();
}

void ConsoleService::poll() {
  if (backend_.on_guest_notify()) domain_.event_channels().notify(port_);
}

void ConsoleService::start_input() {
  if (::isatty(STDIN_FILENO) != 0) terminal_ = std::make_unique<cli::RawTerminal>(STDIN_FILENO);
  input_thread_ = std::thread([this] { read_input(STDIN_FILENO); });
}

void ConsoleService::stop_input() {
  stopping_ = true;
  if (input_thread_.joinable()) input_thread_.join();
}

// Polls with a timeout so that stop_input() is seen promptly. Ctrl-] ends
// the session (xpv run has no background mode to detach to); typed twice
// it sends one Ctrl-] to the guest (backends/console/terminal.hpp).
void ConsoleService::read_input(int fd) {
  constexpr int kPollMs = 100;
  cli::EscapeFilter escape;
  std::array<uint8_t, 256> buffer;
  while (!stopping_ && !domain_.ending()) {
    int timeout =
        escape.pending() ? static_cast<int>(cli::EscapeFilter::kDoubleTapWindow.count()) : kPollMs;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout);
    if (ready == 0 && escape.pending() && escape.expire())
      return domain_.end(DomainEnd::kDestroyed, "console escape (Ctrl-])");
    if (ready != 1) continue;
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return;  // end of input: the guest keeps running without it
    auto filtered = escape.feed(std::span(buffer.data(), static_cast<size_t>(n)));
    if (backend_.push_input(filtered.to_guest) > 0) domain_.event_channels().notify(port_);
    if (filtered.escape) return domain_.end(DomainEnd::kDestroyed, "console escape (Ctrl-])");
  }
}

}  // namespace xpv::vmm
