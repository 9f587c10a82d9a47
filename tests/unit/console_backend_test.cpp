#include "backends/console/console_backend.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::console {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

XENCONS_RING_IDX load(XENCONS_RING_IDX& index) {
  return std::atomic_ref(index).load(std::memory_order_acquire);
}

void store(XENCONS_RING_IDX& index, XENCONS_RING_IDX value) {
  std::atomic_ref(index).store(value, std::memory_order_release);
}

// The guest's side of out[]: writes what fits, as hvc_xen's
// __write_console does, and returns how much.
size_t guest_writes_output(xencons_interface& ring, std::span<const uint8_t> bytes) {
  XENCONS_RING_IDX cons = load(ring.out_cons);
  XENCONS_RING_IDX prod = ring.out_prod;
  size_t n = 0;
  while (n < bytes.size() && prod - cons < sizeof(ring.out))
    ring.out[MASK_XENCONS_IDX(prod++, ring.out)] = static_cast<char>(bytes[n++]);
  store(ring.out_prod, prod);
  return n;
}

std::string guest_reads_input(xencons_interface& ring) {
  std::string text;
  XENCONS_RING_IDX cons = ring.in_cons;
  XENCONS_RING_IDX prod = load(ring.in_prod);
  while (cons != prod)
    text += ring.in[MASK_XENCONS_IDX(cons++, ring.in)];
  store(ring.in_cons, cons);
  return text;
}

class ConsoleBackendTest : public ::testing::Test {
 protected:
  alignas(xen::kPageSize) std::array<uint8_t, xen::kPageSize> page_{};
  xencons_interface& guest_ = *reinterpret_cast<xencons_interface*>(page_.data());
  std::string output_;
  ConsoleBackend backend_{page_, [this](std::span<const uint8_t> bytes) {
                            output_.append(bytes.begin(), bytes.end());
                          }};
};

TEST_F(ConsoleBackendTest, KickDrainsOutputIntoTheSinkAndAsksToNotify) {
  guest_writes_output(guest_, bytes_of("[    0.000000] Linux version 6.1\n"));
  EXPECT_TRUE(backend_.on_guest_notify());
  EXPECT_EQ(output_, "[    0.000000] Linux version 6.1\n");
  EXPECT_EQ(guest_.out_cons, guest_.out_prod);
  ConsoleCounters c = backend_.counters();
  EXPECT_EQ(c.notifications, 1u);
  EXPECT_EQ(c.bytes_out, 33u);
  EXPECT_EQ(c.guest_errors, 0u);
}

TEST_F(ConsoleBackendTest, KickWithNothingToDoNeedsNoNotification) {
  EXPECT_FALSE(backend_.on_guest_notify());
  EXPECT_EQ(output_, "");
  EXPECT_EQ(backend_.counters().notifications, 1u);
}

TEST_F(ConsoleBackendTest, EachKickFreesAFullRingSoASpinningGuestMovesOn) {
  guest_.out_cons = guest_.out_prod = 0xfffff000u;
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += static_cast<char>('!' + i % 90);
  std::span<const uint8_t> rest = bytes_of(text);
  int kicks = 0;
  while (!rest.empty()) {  // hvc_xen: write, send; while full, yield
    rest = rest.subspan(guest_writes_output(guest_, rest));
    backend_.on_guest_notify();
    ++kicks;
  }
  EXPECT_EQ(kicks, 3);
  EXPECT_EQ(output_, text);
  EXPECT_EQ(backend_.counters().bytes_out, 5000u);
}

TEST_F(ConsoleBackendTest, PushedInputGoesStraightIntoIn) {
  EXPECT_EQ(backend_.push_input(bytes_of("root\r")), 5u);
  EXPECT_EQ(guest_reads_input(guest_), "root\r");
  EXPECT_EQ(backend_.counters().bytes_in, 5u);
}

TEST_F(ConsoleBackendTest, InputBeyondAFullRingWaitsForTheNextKick) {
  std::string text(1500, 'a');
  for (size_t i = 0; i < text.size(); ++i)
    text[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(backend_.push_input(bytes_of(text)), 1500u);
  EXPECT_EQ(backend_.counters().bytes_in, ConsoleRing::kInputSize);
  std::string received = guest_reads_input(guest_);
  EXPECT_EQ(received.size(), ConsoleRing::kInputSize);
  // hvc_xen notifies after consuming input; the kick flushes the queue.
  EXPECT_TRUE(backend_.on_guest_notify());
  received += guest_reads_input(guest_);
  EXPECT_EQ(received, text);
  EXPECT_EQ(backend_.counters().bytes_in, 1500u);
  EXPECT_FALSE(backend_.on_guest_notify());
}

TEST_F(ConsoleBackendTest, QueuedInputKeepsItsOrderBehindLaterPushes) {
  guest_.in_prod = ConsoleRing::kInputSize - 2;  // two bytes of room
  EXPECT_EQ(backend_.push_input(bytes_of("abcd")), 4u);
  EXPECT_EQ(backend_.push_input(bytes_of("ef")), 2u);  // queued behind "cd"
  guest_.in_cons = guest_.in_prod - 2;                 // the guest had read all but "ab"
  EXPECT_EQ(guest_reads_input(guest_), "ab");
  EXPECT_TRUE(backend_.on_guest_notify());
  EXPECT_EQ(guest_reads_input(guest_), "cdef");
}

TEST_F(ConsoleBackendTest, DropsInputBeyondTheQueueAndCountsIt) {
  std::vector<uint8_t> flood(ConsoleRing::kInputSize + ConsoleBackend::kInputQueueCapacity + 10,
                             'q');
  EXPECT_EQ(backend_.push_input(flood), flood.size() - 10);
  EXPECT_EQ(backend_.push_input(bytes_of("more")), 0u);
  ConsoleCounters c = backend_.counters();
  EXPECT_EQ(c.input_dropped, 14u);
  EXPECT_EQ(c.bytes_in, ConsoleRing::kInputSize);
}

TEST_F(ConsoleBackendTest, CountsAHostileOutputProducerAndKeepsServing) {
  guest_.out_cons = 0;
  guest_.out_prod = 0x10000;
  EXPECT_FALSE(backend_.on_guest_notify());
  EXPECT_EQ(output_, "");
  EXPECT_EQ(guest_.out_cons, 0u);
  EXPECT_EQ(backend_.counters().guest_errors, 1u);
  EXPECT_NE(backend_.last_guest_error().find("out_prod 0x00010000"), std::string::npos);
  EXPECT_FALSE(backend_.on_guest_notify());
  EXPECT_EQ(backend_.counters().guest_errors, 2u);

  guest_.out_prod = 0;  // the guest mends its ring
  guest_writes_output(guest_, bytes_of("ok"));
  EXPECT_TRUE(backend_.on_guest_notify());
  EXPECT_EQ(output_, "ok");
}

TEST_F(ConsoleBackendTest, QueuesInputWhileTheGuestsInputIndicesAreBroken) {
  guest_.in_cons = 7;
  guest_.in_prod = 3;
  EXPECT_EQ(backend_.push_input(bytes_of("hi")), 2u);
  EXPECT_EQ(guest_.in_prod, 3u);
  EXPECT_EQ(backend_.counters().guest_errors, 1u);
  EXPECT_EQ(backend_.counters().bytes_in, 0u);
  EXPECT_NE(backend_.last_guest_error().find("in_cons 0x00000007"), std::string::npos);

  guest_.in_cons = 3;
  EXPECT_TRUE(backend_.on_guest_notify());
  EXPECT_EQ(guest_reads_input(guest_), "hi");
}

TEST_F(ConsoleBackendTest, ConcurrentGuestOutputAndKicksLoseNothing) {
  std::string text;
  for (int i = 0; i < 200000; ++i)
    text += static_cast<char>('a' + (i * 7) % 26);
  std::atomic<bool> done{false};
  std::thread guest([&] {
    std::span<const uint8_t> rest = bytes_of(text);
    while (!rest.empty()) {
      size_t n = guest_writes_output(guest_, rest.first(std::min<size_t>(rest.size(), 300)));
      rest = rest.subspan(n);
      if (n == 0) std::this_thread::yield();
    }
    done = true;
  });
  std::thread vcpu([&] {  // kicks arrive on another thread than the writes
    while (!done)
      backend_.on_guest_notify();
    backend_.on_guest_notify();
  });
  for (int i = 0; i < 1000; ++i)
    backend_.push_input(bytes_of("x"));
  guest.join();
  vcpu.join();
  EXPECT_EQ(output_, text);
  EXPECT_EQ(backend_.counters().guest_errors, 0u);
}

TEST(ConsoleBackendFdSink, WritesEveryByteToTheFd) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  OutputSink sink = fd_output_sink(write_end.get());
  sink(bytes_of("console "));
  sink(bytes_of("output"));
  std::array<char, 64> buffer{};
  ssize_t n = ::read(read_end.get(), buffer.data(), buffer.size());
  EXPECT_EQ(std::string(buffer.data(), static_cast<size_t>(std::max<ssize_t>(n, 0))),
            "console output");
}

TEST(ConsoleBackendFdSink, DropsOutputItCannotWrite) {
  UniqueFd read_only(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(read_only.valid());
  OutputSink sink = fd_output_sink(read_only.get());
  sink(bytes_of("lost"));  // returns instead of blocking or throwing
}

}  // namespace
}  // namespace xpv::backends::console
