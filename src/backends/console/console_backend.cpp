#include "backends/console/console_backend.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace xpv::backends::console {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void write_fully(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) return;
    } else {
      return;
    }
  }
}

}  // namespace

OutputSink fd_output_sink(int fd) {
  return [fd](std::span<const uint8_t> bytes) { write_fully(fd, bytes); };
}

ConsoleBackend::ConsoleBackend(std::span<uint8_t, xen::kPageSize> page, OutputSink sink)
    : ring_(page), sink_(std::move(sink)) {
  queued_input_.reserve(kInputQueueCapacity);
}

bool ConsoleBackend::on_guest_notify() {
  notifications_.fetch_add(1, kRelaxed);
  bool consumed_output = drain_output();
  std::lock_guard lock(input_mutex_);
  bool delivered_input = flush_queued_input();
  return consumed_output || delivered_input;
}

size_t ConsoleBackend::push_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(input_mutex_);
  // Queued bytes are older than these: while any wait, these queue behind.
  size_t written = queued_input_.empty() ? write_to_ring(bytes) : 0;
  std::span<const uint8_t> rest = bytes.subspan(written);
  size_t queued = std::min(rest.size(), kInputQueueCapacity - queued_input_.size());
  queued_input_.insert(queued_input_.end(), rest.begin(), rest.begin() + queued);
  input_dropped_.fetch_add(rest.size() - queued, kRelaxed);
  return written + queued;
}

ConsoleCounters ConsoleBackend::counters() const {
  return {notifications_.load(kRelaxed), bytes_out_.load(kRelaxed), bytes_in_.load(kRelaxed),
          input_dropped_.load(kRelaxed), guest_errors_.load(kRelaxed)};
}

std::string ConsoleBackend::last_guest_error() const {
  std::lock_guard lock(error_mutex_);
  return last_guest_error_;
}

bool ConsoleBackend::drain_output() {
  std::lock_guard lock(output_mutex_);
  std::array<uint8_t, ConsoleRing::kOutputSize> buffer;
  Transfer transfer = ring_.read_output(buffer);
  if (transfer.fault) [[unlikely]] {
    record_fault(*transfer.fault);
    return false;
  }
  if (transfer.bytes == 0) return false;
  bytes_out_.fetch_add(transfer.bytes, kRelaxed);
  sink_(std::span<const uint8_t>(buffer).first(transfer.bytes));
  return true;
}

bool ConsoleBackend::flush_queued_input() {
  if (queued_input_.empty()) return false;
  size_t written = write_to_ring(queued_input_);
  queued_input_.erase(queued_input_.begin(),
                      queued_input_.begin() + static_cast<std::ptrdiff_t>(written));
  return written > 0;
}

size_t ConsoleBackend::write_to_ring(std::span<const uint8_t> bytes) {
  Transfer transfer = ring_.write_input(bytes);
  if (transfer.fault) [[unlikely]] {
    record_fault(*transfer.fault);
    return 0;
  }
  bytes_in_.fetch_add(transfer.bytes, kRelaxed);
  return transfer.bytes;
}

void ConsoleBackend::record_fault(const RingFault& fault) {
  guest_errors_.fetch_add(1, kRelaxed);
  std::string message = fault.describe();
  std::lock_guard lock(error_mutex_);
  last_guest_error_ = std::move(message);
}

}  // namespace xpv::backends::console
