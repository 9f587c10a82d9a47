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
}

void ConsoleService::on_guest_send() {
  if (backend_.on_guest_notify()) domain_.event_channels().notify(port_);
}

void ConsoleService::poll() {
  on_guest_send();
}

void ConsoleService::start_input(int fd) {
  input_thread_ = std::thread([this, fd] { read_input(fd); });
}

void ConsoleService::stop_input() {
  stopping_ = true;
  if (input_thread_.joinable()) input_thread_.join();
}

// Polls with a timeout so that stop_input() is seen promptly.
void ConsoleService::read_input(int fd) {
  constexpr int kPollMs = 100;
  std::array<uint8_t, 256> buffer;
  while (!stopping_ && !domain_.ending()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) != 1) continue;
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return;  // end of input: the guest keeps running without it
    if (backend_.push_input(std::span(buffer.data(), static_cast<size_t>(n))) > 0)
      domain_.event_channels().notify(port_);
  }
}

}  // namespace xpv::vmm
