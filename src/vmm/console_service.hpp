// hvc0: the PV console ring of a domain, served on xpv's stdio. The
// guest's sends on the console port drain its output; bytes read from
// stdin go into its input ring with a notification.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "backends/console/console_backend.hpp"
#include "backends/console/terminal.hpp"
#include "xen/abi.hpp"

namespace xpv::vmm {

class Domain;

class ConsoleService {
 public:
  // Serves the console page in guest frame `mfn` on event channel `port`.
  ConsoleService(Domain& domain, uint64_t mfn, evtchn_port_t port);
  ConsoleService(const ConsoleService&) = delete;
  ConsoleService& operator=(const ConsoleService&) = delete;
  ~ConsoleService();

  // Drains the guest's output now (it also happens on every send).
  void poll();
  void stop_input();

  backends::console::ConsoleCounters counters() const { return backend_.counters(); }

 private:
  void on_guest_send();
  void start_input();
  void read_input(int fd);

  Domain& domain_;
  evtchn_port_t port_;
  backends::console::ConsoleBackend backend_;
  std::atomic<bool> stopping_{false};
  std::once_flag input_started_;
  std::unique_ptr<cli::RawTerminal> terminal_;
  std::thread input_thread_;
};

}  // namespace xpv::vmm
