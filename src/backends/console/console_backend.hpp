// The hvc0 backend: what xenconsoled is to a Xen domU. It joins the
// guest's console ring (console_ring.hpp) to an output sink (the user's
// terminal) and takes input pushed by whoever reads the terminal.
//
// Linux's hvc_xen copies into out[], bumps out_prod and sends an event on
// the console port; while out[] is full it spins on SCHEDOP_yield. So the
// backend drains out[] on every kick (on_guest_notify). Input goes into
// in[] as space allows; what does not fit waits in a bounded queue that
// the next kick flushes (hvc_xen sends an event after it consumes input).
//
// Thread safety: on_guest_notify may run on any vCPU thread while
// push_input runs on the thread reading the terminal; counters() may be
// read from anywhere.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backends/console/console_ring.hpp"

namespace xpv::backends::console {

// Bytes the guest wrote, in order. Called with the backend's output lock
// held, so calls never overlap or reorder; it must take every byte.
using OutputSink = std::function<void(std::span<const uint8_t>)>;

// A sink that writes everything to `fd` (not owned), waiting while a
// non-blocking fd is full. Output to a closed or failing fd is dropped:
// a vanished terminal must not stop the guest.
OutputSink fd_output_sink(int fd);

// A snapshot of the backend's counters (for --stats and `xpv top`).
struct ConsoleCounters {
  uint64_t notifications = 0;  // kicks from the guest
  uint64_t bytes_out = 0;      // guest output handed to the sink
  uint64_t bytes_in = 0;       // input written into in[]
  uint64_t input_dropped = 0;  // input refused because the queue was full
  uint64_t guest_errors = 0;   // ring operations refused for bad indices
};

class ConsoleBackend {
 public:
  // Input the backend holds while in[] is full, beyond which push_input
  // refuses bytes (like a UART overrun).
  static constexpr size_t kInputQueueCapacity = 4096;

  // `page` is the guest's console page (see ConsoleRing).
  ConsoleBackend(std::span<uint8_t, xen::kPageSize> page, OutputSink sink);

  // The guest raised the console port (EVTCHNOP_send, or a yield while the
  // ring is full): drains out[] into the sink and moves queued input into
  // in[]. Returns whether the guest must be notified (it consumed output,
  // or it received input).
  bool on_guest_notify();

  // Takes terminal input: writes what fits into in[] and queues the rest,
  // up to kInputQueueCapacity. Returns the bytes taken; the rest is dropped
  // and counted. Notify the guest when it returns non-zero (if the bytes
  // were only queued the event is spurious, which hvc_xen tolerates).
  size_t push_input(std::span<const uint8_t> bytes);

  ConsoleCounters counters() const;
  // The most recent ring fault, described; empty if there was none.
  std::string last_guest_error() const;

 private:
  bool drain_output();
  bool flush_queued_input();                             // with input_mutex_ held
  size_t write_to_ring(std::span<const uint8_t> bytes);  // with input_mutex_ held
  void record_fault(const RingFault& fault);

  ConsoleRing ring_;
  OutputSink sink_;

  std::mutex output_mutex_;
  std::mutex input_mutex_;
  std::vector<uint8_t> queued_input_;  // guarded by input_mutex_

  mutable std::mutex error_mutex_;
  std::string last_guest_error_;  // guarded by error_mutex_

  std::atomic<uint64_t> notifications_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> input_dropped_{0};
  std::atomic<uint64_t> guest_errors_{0};
};

}  // namespace xpv::backends::console
