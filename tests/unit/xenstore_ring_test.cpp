#include "backends/xenstore/ring.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace xpv::backends::xenstore {
namespace {

using namespace std::string_literals;

struct alignas(4096) PageBuffer {
  uint8_t bytes[Ring::kPageBytes]{};
};

std::string request_bytes(uint32_t type, std::string payload, uint32_t req_id = 1) {
  Message m;
  m.header.type = type;
  m.header.req_id = req_id;
  m.payload = std::move(payload);
  return encode(m);
}

// The guest's side of the page, written the way Linux's xenbus_comms.c
// does: data first, then the producer index.
class XenstoreRing : public ::testing::Test {
 protected:
  xenstore_domain_interface& intf() {
    return *reinterpret_cast<xenstore_domain_interface*>(page_->bytes);
  }
  Ring::Page page() { return Ring::Page(page_->bytes, Ring::kPageBytes); }

  void set_indices(XENSTORE_RING_IDX req, XENSTORE_RING_IDX rsp) {
    intf().req_cons = intf().req_prod = req;
    intf().rsp_cons = intf().rsp_prod = rsp;
  }
  // Writes into req[] at req_prod; the caller keeps within free space.
  void guest_write(std::string_view bytes) {
    for (char c : bytes)
      intf().req[MASK_XENSTORE_IDX(intf().req_prod++)] = c;
  }
  size_t guest_space() const {
    auto& i = const_cast<XenstoreRing*>(this)->intf();
    return XENSTORE_RING_SIZE - (i.req_prod - i.req_cons);
  }
  // Reads everything in rsp[] and advances rsp_cons.
  std::string guest_read(size_t limit = SIZE_MAX) {
    std::string bytes;
    while (intf().rsp_cons != intf().rsp_prod && bytes.size() < limit) {
      bytes += intf().rsp[MASK_XENSTORE_IDX(intf().rsp_cons++)];
    }
    return bytes;
  }

  std::unique_ptr<PageBuffer> page_ = std::make_unique<PageBuffer>();
};

TEST_F(XenstoreRing, AdvertisesFeaturesAndStartsClean) {
  Ring ring(page());
  EXPECT_EQ(intf().server_features, static_cast<uint32_t>(XENSTORE_SERVER_FEATURE_RECONNECTION |
                                                          XENSTORE_SERVER_FEATURE_ERROR));
  EXPECT_EQ(intf().connection, static_cast<uint32_t>(XENSTORE_CONNECTED));
  EXPECT_EQ(ring.fault(), Ring::Fault::kNone);
  EXPECT_TRUE(ring.receive().empty());
  EXPECT_FALSE(ring.take_notification());
}

TEST_F(XenstoreRing, ReceivesACompleteRequest) {
  Ring ring(page());
  std::string bytes = request_bytes(XS_READ, "memory/target\0"s, 42);
  guest_write(bytes);
  std::vector<Message> messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].header.type, static_cast<uint32_t>(XS_READ));
  EXPECT_EQ(messages[0].header.req_id, 42u);
  EXPECT_EQ(messages[0].payload, "memory/target\0"s);
  EXPECT_EQ(intf().req_cons, bytes.size());
  EXPECT_TRUE(ring.take_notification());
  EXPECT_TRUE(ring.receive().empty());
  EXPECT_FALSE(ring.take_notification());
}

TEST_F(XenstoreRing, RequestsMayArriveInPieces) {
  Ring ring(page());
  std::string bytes = request_bytes(XS_WRITE, "a/b\0value"s);
  guest_write(bytes.substr(0, 10));  // part of the header
  EXPECT_TRUE(ring.receive().empty());
  EXPECT_EQ(intf().req_cons, 10u);    // consumed all the same
  guest_write(bytes.substr(10, 10));  // rest of the header, some payload
  EXPECT_TRUE(ring.receive().empty());
  guest_write(bytes.substr(20));
  std::vector<Message> messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "a/b\0value"s);
}

TEST_F(XenstoreRing, ReceivesSeveralRequestsAtOnce) {
  Ring ring(page());
  std::string fourth = request_bytes(XS_READ, "c\0"s, 4);
  guest_write(request_bytes(XS_READ, "a\0"s, 1) + request_bytes(XS_READ, "b\0"s, 2) +
              request_bytes(XS_TRANSACTION_START, "\0"s, 3) + fourth.substr(0, fourth.size() - 1));
  std::vector<Message> messages = ring.receive();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[2].header.req_id, 3u);
  guest_write(fourth.substr(fourth.size() - 1));  // completes the fourth
  ASSERT_EQ(ring.receive().size(), 1u);
}

TEST_F(XenstoreRing, IndicesWrapAroundTwoToThe32) {
  set_indices(0xfffffff0u, 0xfffffff8u);
  Ring ring(page());
  std::string bytes = request_bytes(XS_READ, "/a/long/enough/path\0"s);
  guest_write(bytes);
  ASSERT_LT(intf().req_prod, 0x100u);  // wrapped
  auto messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "/a/long/enough/path\0"s);
  EXPECT_EQ(intf().req_cons, intf().req_prod);

  Message reply_message = reply(messages[0].header, "a value that crosses");
  ring.send(reply_message);
  ring.flush();
  EXPECT_EQ(intf().rsp_prod, static_cast<XENSTORE_RING_IDX>(0xfffffff8u + kHeaderBytes + 20));
  EXPECT_EQ(guest_read(), encode(reply_message));
}

TEST_F(XenstoreRing, DataWrapsAtTheEndOfTheBuffer) {
  set_indices(XENSTORE_RING_SIZE - 5, 2 * XENSTORE_RING_SIZE - 7);
  Ring ring(page());
  std::string bytes = request_bytes(XS_WRITE, "/x\0across the end"s);
  guest_write(bytes);
  auto messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "/x\0across the end"s);
  ring.send(reply_ok(messages[0].header));
  ring.flush();
  EXPECT_EQ(guest_read(), encode(reply_ok(messages[0].header)));
}

TEST_F(XenstoreRing, ARequestLongerThanTheRingArrivesInChunks) {
  Ring ring(page());
  std::string value(kPayloadMax - 3, 'v');
  std::string bytes = request_bytes(XS_WRITE, "/a\0"s + value);
  ASSERT_EQ(bytes.size(), kHeaderBytes + kPayloadMax);
  std::vector<Message> messages;
  size_t sent = 0;
  for (int round = 0; round < 10 && messages.empty(); ++round) {
    size_t chunk = std::min(guest_space(), bytes.size() - sent);
    guest_write(std::string_view(bytes).substr(sent, chunk));
    sent += chunk;
    messages = ring.receive();
  }
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload.size(), kPayloadMax);
  EXPECT_EQ(ring.fault(), Ring::Fault::kNone);
}

TEST_F(XenstoreRing, RepliesWaitForSpaceInTheResponseRing) {
  Ring ring(page());
  Message big;
  big.header.type = XS_READ;
  for (int i = 0; i < 1500; ++i)
    big.payload += static_cast<char>('a' + i % 26);
  ring.send(big);
  ring.flush();
  EXPECT_EQ(intf().rsp_prod - intf().rsp_cons, XENSTORE_RING_SIZE);
  EXPECT_EQ(ring.queued_bytes(), kHeaderBytes + 1500 - XENSTORE_RING_SIZE);
  EXPECT_TRUE(ring.take_notification());
  std::string received = guest_read(600);
  ring.flush();
  received += guest_read();
  ring.flush();
  received += guest_read();
  EXPECT_EQ(received, encode(big));
  EXPECT_EQ(ring.queued_bytes(), 0u);
  ring.take_notification();
  ring.flush();  // nothing left: the indices stay
  EXPECT_FALSE(ring.take_notification());
}

TEST_F(XenstoreRing, FlushWithNothingQueuedDoesNotNotify) {
  Ring ring(page());
  ring.flush();
  EXPECT_FALSE(ring.take_notification());
}

// --- A hostile guest ---------------------------------------------------------

TEST_F(XenstoreRing, AProducerMoreThanARingAheadStopsTheRing) {
  Ring ring(page());
  guest_write(request_bytes(XS_READ, "a\0"s));
  intf().req_prod = intf().req_cons + XENSTORE_RING_SIZE + 1;
  EXPECT_TRUE(ring.receive().empty());
  EXPECT_EQ(ring.fault(), Ring::Fault::kRingIndex);
  EXPECT_EQ(intf().error, static_cast<uint32_t>(XENSTORE_ERROR_RINGIDX));
  EXPECT_TRUE(ring.take_notification());
  EXPECT_EQ(intf().req_cons, 0u);  // nothing consumed

  // Stopped for good: even a valid request is left alone.
  intf().req_prod = 0;
  guest_write(request_bytes(XS_READ, "a\0"s));
  EXPECT_TRUE(ring.receive().empty());
  ring.send(reply_ok(xsd_sockmsg{}));
  ring.flush();
  EXPECT_EQ(intf().rsp_prod, 0u);
  EXPECT_EQ(ring.queued_bytes(), 0u);
}

TEST_F(XenstoreRing, AProducerBehindTheConsumerStopsTheRing) {
  set_indices(100, 0);
  Ring ring(page());
  intf().req_prod = 99;
  EXPECT_TRUE(ring.receive().empty());
  EXPECT_EQ(ring.fault(), Ring::Fault::kRingIndex);
}

TEST_F(XenstoreRing, AConsumerAheadOfTheProducerStopsTheRing) {
  Ring ring(page());
  intf().rsp_cons = 5;  // claims to have read what was never written
  ring.send(reply_ok(xsd_sockmsg{}));
  ring.flush();
  EXPECT_EQ(ring.fault(), Ring::Fault::kRingIndex);
  EXPECT_EQ(intf().rsp_prod, 0u);
  EXPECT_EQ(intf().error, static_cast<uint32_t>(XENSTORE_ERROR_RINGIDX));
}

TEST_F(XenstoreRing, AnOversizedMessageStopsTheRing) {
  for (uint32_t len : {static_cast<uint32_t>(kPayloadMax + 1), 0xffffffffu}) {
    page_ = std::make_unique<PageBuffer>();
    Ring ring(page());
    xsd_sockmsg header{XS_WRITE, 1, 0, len};
    std::string bytes(reinterpret_cast<const char*>(&header), sizeof(header));
    guest_write(request_bytes(XS_READ, "ok\0"s) + bytes + "payload");
    EXPECT_TRUE(ring.receive().empty()) << len;  // the good one before it is dropped too
    EXPECT_EQ(ring.fault(), Ring::Fault::kProtocol);
    EXPECT_EQ(intf().error, static_cast<uint32_t>(XENSTORE_ERROR_PROTO));
  }
}

TEST_F(XenstoreRing, TheGuestCannotMoveTheIndicesXpvOwns) {
  Ring ring(page());
  guest_write(request_bytes(XS_READ, "a\0"s));
  intf().req_cons = 0x12345678;  // the guest scribbles on the server's indices
  intf().rsp_prod = 0x9abcdef0;
  auto messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(intf().req_cons, intf().req_prod);
  intf().rsp_prod = 0x9abcdef0;
  ring.send(reply_ok(messages[0].header));
  ring.flush();
  EXPECT_EQ(intf().rsp_prod, kHeaderBytes + 3);
  EXPECT_EQ(ring.fault(), Ring::Fault::kNone);
}

TEST_F(XenstoreRing, ReconnectEmptiesTheRingAndClearsFaults) {
  Ring ring(page());
  guest_write(request_bytes(XS_READ, "partial\0"s).substr(0, 20));  // never completed
  EXPECT_TRUE(ring.receive().empty());
  intf().req_prod += 5000;
  EXPECT_TRUE(ring.receive().empty());
  ASSERT_EQ(ring.fault(), Ring::Fault::kRingIndex);

  EXPECT_FALSE(ring.reconnect_requested());
  intf().connection = XENSTORE_RECONNECT;
  EXPECT_TRUE(ring.reconnect_requested());
  ring.take_notification();
  ring.reconnect();
  EXPECT_TRUE(ring.take_notification());
  EXPECT_EQ(ring.fault(), Ring::Fault::kNone);
  EXPECT_EQ(intf().connection, static_cast<uint32_t>(XENSTORE_CONNECTED));
  EXPECT_EQ(intf().error, static_cast<uint32_t>(XENSTORE_ERROR_NONE));
  EXPECT_EQ(intf().req_cons, 0u);
  EXPECT_EQ(intf().req_prod, 0u);
  EXPECT_EQ(intf().rsp_cons, 0u);
  EXPECT_EQ(intf().rsp_prod, 0u);

  guest_write(request_bytes(XS_READ, "fresh\0"s));
  auto messages = ring.receive();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "fresh\0"s);
}

TEST_F(XenstoreRing, RejectsAMisalignedPage) {
  auto buffer = std::make_unique<PageBuffer[]>(2);
  Ring::Page misaligned(buffer[0].bytes + 1, Ring::kPageBytes);
  EXPECT_THROW(Ring ring(misaligned), Error);
}

// Whatever the guest puts in its page, the ring neither loops nor keeps
// more than a bounded amount, and it reads and writes only the page.
TEST_F(XenstoreRing, SurvivesRandomGarbage) {
  std::mt19937 random(1234);
  for (int trial = 0; trial < 200; ++trial) {
    page_ = std::make_unique<PageBuffer>();
    for (uint8_t& byte : page_->bytes)
      byte = static_cast<uint8_t>(random());
    Ring ring(page());
    for (int step = 0; step < 50; ++step) {
      switch (random() % 5) {
        case 0:
          intf().req_prod = static_cast<XENSTORE_RING_IDX>(random());
          break;
        case 1:
          intf().rsp_cons = static_cast<XENSTORE_RING_IDX>(random());
          break;
        case 2:
          intf().req_prod += static_cast<XENSTORE_RING_IDX>(random() % 64);
          break;
        case 3:
          intf().rsp_cons = intf().rsp_prod - static_cast<XENSTORE_RING_IDX>(random() % 64);
          break;
        default:
          intf().req[random() % XENSTORE_RING_SIZE] = static_cast<char>(random());
          break;
      }
      std::vector<Message> messages = ring.receive();
      EXPECT_LE(messages.size(), XENSTORE_RING_SIZE / kHeaderBytes);
      for (const Message& m : messages) {
        EXPECT_LE(m.payload.size(), kPayloadMax);
        ring.send(reply_ok(m.header));
      }
      ring.flush();
      if (ring.fault() != Ring::Fault::kNone) {
        EXPECT_EQ(ring.queued_bytes(), 0u);
      }
    }
  }
}

}  // namespace
}  // namespace xpv::backends::xenstore
