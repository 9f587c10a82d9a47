#include "backends/xenstore/server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/xenstore/domain_nodes.hpp"

namespace xpv::backends::xenstore {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

using namespace std::string_literals;

constexpr domid_t kGuest = 1;

struct alignas(4096) PageBuffer {
  uint8_t bytes[Ring::kPageBytes]{};
};

// A domU's xenbus, as Linux's xenbus_comms.c and xenbus_xs.c drive the
// ring: write a request (waiting for space), kick, read replies and watch
// events.
class FakeGuest {
 public:
  FakeGuest(Server& server, domid_t domid) : server_(server), domid_(domid) {}

  Ring::Page page() { return Ring::Page(page_->bytes, Ring::kPageBytes); }
  xenstore_domain_interface& intf() {
    return *reinterpret_cast<xenstore_domain_interface*>(page_->bytes);
  }
  void kick() { server_.on_guest_kick(domid_); }

  // Sends a request and waits for its reply: by time, not by rounds, as a
  // host thread may keep the ring full of watch events meanwhile.
  Message call(uint32_t type, std::string payload, uint32_t tx_id = 0) {
    uint32_t req_id = send(type, std::move(payload), tx_id);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int round = 0; round < 64 || std::chrono::steady_clock::now() < deadline; ++round) {
      receive();
      auto it = replies_.find(req_id);
      if (it != replies_.end()) {
        Message reply = std::move(it->second);
        replies_.erase(it);
        return reply;
      }
      kick();
    }
    ADD_FAILURE() << "no reply to " << message_type_name(type);
    return Message{};
  }

  // The reply's payload, or "<ENAME>" for an error.
  std::string ask(uint32_t type, std::string payload, uint32_t tx_id = 0) {
    Message reply = call(type, std::move(payload), tx_id);
    if (reply.header.type == XS_ERROR) return "<" + std::string(reply.payload.c_str()) + ">";
    EXPECT_EQ(reply.header.type, type);
    return reply.payload;
  }
  std::string read(std::string path, uint32_t tx = 0) { return ask(XS_READ, path + '\0', tx); }
  std::string write(std::string path, std::string value, uint32_t tx = 0) {
    return ask(XS_WRITE, path + '\0' + value, tx);
  }
  std::string watch(std::string path, std::string token) {
    return ask(XS_WATCH, path + '\0' + token + '\0');
  }
  std::string unwatch(std::string path, std::string token) {
    return ask(XS_UNWATCH, path + '\0' + token + '\0');
  }
  uint32_t transaction_start() {
    return static_cast<uint32_t>(std::stoul(ask(XS_TRANSACTION_START, "\0"s)));
  }
  std::string transaction_end(uint32_t tx, bool commit) {
    return ask(XS_TRANSACTION_END, commit ? "T\0"s : "F\0"s, tx);
  }

  // Writes a request, kicking whenever the ring is full.
  uint32_t send(uint32_t type, std::string payload, uint32_t tx_id = 0) {
    Message m;
    m.header.type = type;
    m.header.req_id = next_req_id_++;
    m.header.tx_id = tx_id;
    m.payload = std::move(payload);
    std::string bytes = encode(m);
    size_t sent = 0;
    for (int round = 0; sent < bytes.size(); ++round) {
      if (round > 64) {
        ADD_FAILURE() << "the server does not consume requests";
        break;
      }
      XENSTORE_RING_IDX prod = intf().req_prod;
      while (sent < bytes.size() && prod - load(intf().req_cons) < XENSTORE_RING_SIZE) {
        intf().req[MASK_XENSTORE_IDX(prod++)] = bytes[sent++];
      }
      store(intf().req_prod, prod);
      kick();
    }
    return m.header.req_id;
  }

  // Reads everything in rsp[], sorting replies from watch events.
  void receive() {
    XENSTORE_RING_IDX cons = intf().rsp_cons;
    for (XENSTORE_RING_IDX prod = load(intf().rsp_prod); cons != prod; ++cons) {
      input_ += intf().rsp[MASK_XENSTORE_IDX(cons)];
    }
    store(intf().rsp_cons, cons);
    while (input_.size() >= kHeaderBytes) {
      xsd_sockmsg header = decode_header(input_);
      if (input_.size() < kHeaderBytes + header.len) break;
      Message m{header, input_.substr(kHeaderBytes, header.len)};
      input_.erase(0, kHeaderBytes + header.len);
      if (header.type == XS_WATCH_EVENT) {
        events_.push_back(m.payload);
      } else {
        order_.push_back(header.type);
        replies_.emplace(header.req_id, std::move(m));
      }
    }
  }
  // Watch events so far, as "path|token".
  std::vector<std::string> take_events() {
    receive();
    std::vector<std::string> events;
    for (const std::string& payload : std::exchange(events_, {})) {
      std::string path(payload.c_str());
      std::string token(payload.c_str() + path.size() + 1);
      events.push_back(path + "|" + token);
    }
    return events;
  }

  std::vector<uint32_t> order_;  // reply types, as received

 private:
  // The server may run on another thread (HostAndGuestMayUseItFromDifferentThreads).
  static XENSTORE_RING_IDX load(XENSTORE_RING_IDX& index) {
    return std::atomic_ref(index).load(std::memory_order_acquire);
  }
  static void store(XENSTORE_RING_IDX& index, XENSTORE_RING_IDX value) {
    std::atomic_ref(index).store(value, std::memory_order_release);
  }

  Server& server_;
  domid_t domid_;
  std::unique_ptr<PageBuffer> page_ = std::make_unique<PageBuffer>();
  uint32_t next_req_id_ = 1;
  std::string input_;
  std::map<uint32_t, Message> replies_;
  std::vector<std::string> events_;
};

class XenstoreServer : public ::testing::Test {
 protected:
  XenstoreServer() {
    server.with_store([](Store& store) { populate_domain(store, kGuest, "guest", 524288, 1); });
    EXPECT_TRUE(server.introduce_domain(kGuest, guest.page()));
  }

  std::mutex notified_mutex;
  std::vector<domid_t> notified;
  Server server{[this](domid_t domid) {
    std::lock_guard lock(notified_mutex);
    notified.push_back(domid);
  }};
  FakeGuest guest{server, kGuest};
};

TEST_F(XenstoreServer, AnswersEveryRequestTypeADomUSends) {
  EXPECT_EQ(guest.write("data/x", "v"), "OK\0"s);
  EXPECT_EQ(guest.read("data/x"), "v");
  EXPECT_EQ(guest.ask(XS_MKDIR, "data/dir\0"s), "OK\0"s);
  EXPECT_EQ(guest.ask(XS_DIRECTORY, "data\0"s), "dir\0x\0"s);
  EXPECT_EQ(guest.ask(XS_GET_PERMS, "data/x\0"s), "n1\0"s);
  EXPECT_EQ(guest.ask(XS_SET_PERMS, "data/x\0n1\0r0\0"s), "OK\0"s);
  EXPECT_EQ(guest.ask(XS_GET_PERMS, "data/x\0"s), "n1\0r0\0"s);
  EXPECT_EQ(guest.ask(XS_RM, "data/x\0"s), "OK\0"s);
  EXPECT_EQ(guest.read("data/x"), "<ENOENT>");
  EXPECT_EQ(guest.ask(XS_GET_DOMAIN_PATH, "1\0"s), "/local/domain/1\0"s);
  EXPECT_EQ(guest.watch("data", "tok"), "OK\0"s);
  EXPECT_THAT(guest.take_events(), ElementsAre("data|tok"));
  EXPECT_EQ(guest.ask(XS_UNWATCH, "data\0tok\0"s), "OK\0"s);
  uint32_t tx = guest.transaction_start();
  EXPECT_NE(tx, 0u);
  EXPECT_EQ(guest.write("data/in-tx", "1", tx), "OK\0"s);
  EXPECT_EQ(guest.read("data/in-tx"), "<ENOENT>");
  EXPECT_EQ(guest.transaction_end(tx, true), "OK\0"s);
  EXPECT_EQ(guest.read("data/in-tx"), "1");
  EXPECT_EQ(guest.watch("data", "again"), "OK\0"s);
  EXPECT_EQ(guest.ask(XS_RESET_WATCHES, ""), "OK\0"s);
  guest.take_events();
  ASSERT_TRUE(server.write("/local/domain/1/data/y", "1"));
  EXPECT_THAT(guest.take_events(), IsEmpty());
}

TEST_F(XenstoreServer, RepliesEchoReqIdAndTxId) {
  uint32_t tx = guest.transaction_start();
  uint32_t req_id = guest.send(XS_READ, "name\0"s, tx);
  guest.receive();
  Message reply = guest.call(XS_READ, "name\0"s, tx);
  EXPECT_EQ(reply.header.req_id, req_id + 1);
  EXPECT_EQ(reply.header.tx_id, tx);
  EXPECT_EQ(reply.header.len, 5u);
  EXPECT_EQ(reply.payload, "guest");
  Message error = guest.call(XS_READ, "missing\0"s, tx);
  EXPECT_EQ(error.header.type, static_cast<uint32_t>(XS_ERROR));
  EXPECT_EQ(error.header.tx_id, tx);
}

TEST_F(XenstoreServer, ErrorsAreXenErrnoNames) {
  EXPECT_EQ(guest.read("missing"), "<ENOENT>");
  EXPECT_EQ(guest.read("/local/domain/0"), "<EACCES>");
  EXPECT_EQ(guest.write("memory/target", "1"), "<EACCES>");
  EXPECT_EQ(guest.read("bad//path"), "<EINVAL>");
  EXPECT_EQ(guest.ask(XS_READ, "no-nul"), "<EINVAL>");
  EXPECT_EQ(guest.ask(XS_CONTROL, "print\0hi\0"s), "<ENOSYS>");
  EXPECT_EQ(guest.ask(XS_DIRECTORY_PART, "data\0000\0"s), "<ENOSYS>");
  EXPECT_EQ(guest.ask(123, ""), "<ENOSYS>");
  EXPECT_EQ(guest.ask(XS_WATCH_EVENT, "a\0b\0"s), "<EINVAL>");
  EXPECT_EQ(guest.transaction_end(999, true), "<ENOENT>");
  EXPECT_EQ(guest.read("name", 999), "<ENOENT>");
  EXPECT_EQ(guest.ask(XS_TRANSACTION_START, "\0"s, 5), "<EINVAL>");
  EXPECT_EQ(guest.ask(XS_SET_PERMS, "data\0n2\0"s), "<EPERM>");
  EXPECT_EQ(guest.watch("cpu", "t"), "OK\0"s);
  EXPECT_EQ(guest.watch("cpu", "t"), "<EEXIST>");
  EXPECT_EQ(guest.ask(XS_UNWATCH, "cpu\0other\0"s), "<ENOENT>");
  uint32_t tx = guest.transaction_start();
  EXPECT_EQ(guest.read("memory/target", tx), "524288");
  ASSERT_TRUE(server.write("/local/domain/1/memory/target", "262144"));
  EXPECT_EQ(guest.transaction_end(tx, true), "<EAGAIN>");
}

TEST_F(XenstoreServer, RepliesLargerThanThePayloadLimitAreE2BIG) {
  server.with_store([](Store& store) {
    for (int i = 0; i < 50; ++i) {
      std::string child = "/local/domain/1/data/" + std::to_string(i) + std::string(100, 'x');
      ASSERT_TRUE(store.write(Caller::host(), kNoTransaction, child, ""));
    }
  });
  EXPECT_EQ(guest.ask(XS_DIRECTORY, "data\0"s), "<E2BIG>");
  // A value as large as a reply can carry comes back whole.
  std::string value(kPayloadMax, 'v');
  ASSERT_TRUE(server.write("/local/domain/1/data/big", value));
  EXPECT_EQ(guest.read("data/big"), value);
  ASSERT_TRUE(server.write("/local/domain/1/data/big", value + "v"));
  EXPECT_EQ(guest.read("data/big"), "<E2BIG>");
}

TEST_F(XenstoreServer, DomainManagementIsForTheControlDomainOnly) {
  EXPECT_EQ(guest.ask(XS_INTRODUCE, "2\0001234\0005\0"s), "<EACCES>");
  EXPECT_EQ(guest.ask(XS_RELEASE, "1\0"s), "<EACCES>");
  EXPECT_EQ(guest.ask(XS_IS_DOMAIN_INTRODUCED, "1\0"s), "<EACCES>");
  EXPECT_EQ(guest.ask(XS_RESUME, "1\0"s), "<EACCES>");
  EXPECT_EQ(guest.ask(XS_SET_TARGET, "1\0000\0"s), "<EACCES>");
  EXPECT_TRUE(server.is_introduced(kGuest));
  EXPECT_EQ(guest.read("name"), "guest");  // still served
}

TEST_F(XenstoreServer, AWatchFiresOnceRightAfterItsReply) {
  guest.send(XS_WATCH, "control/shutdown\0shutdown-token\0"s);
  guest.receive();
  EXPECT_THAT(guest.order_, ElementsAre(static_cast<uint32_t>(XS_WATCH)));
  EXPECT_THAT(guest.take_events(), ElementsAre("control/shutdown|shutdown-token"));
}

TEST_F(XenstoreServer, HostChangesFireGuestWatchesAndNotifyTheGuest) {
  ASSERT_EQ(guest.watch("control/shutdown", "t"), "OK\0"s);
  guest.take_events();
  notified.clear();
  ASSERT_TRUE(server.request_shutdown(kGuest, "poweroff"));
  EXPECT_THAT(notified, ElementsAre(kGuest));
  EXPECT_THAT(guest.take_events(), ElementsAre("control/shutdown|t"));
  EXPECT_EQ(guest.read("control/shutdown"), "poweroff");
  EXPECT_FALSE(server.request_shutdown(kGuest, "detonate"));
  notified.clear();
  ASSERT_TRUE(server.write("/local/domain/1/name", "unwatched"));
  EXPECT_THAT(notified, IsEmpty());
}

// xpv asks a guest to power off only if something in it would act on the
// request: a watch on control/shutdown, or on a node above it.
TEST_F(XenstoreServer, KnowsWhetherTheGuestListensForShutdownRequests) {
  EXPECT_FALSE(server.listens_for_shutdown(kGuest));
  ASSERT_EQ(guest.watch("control/sysrq", "s"), "OK\0"s);
  EXPECT_FALSE(server.listens_for_shutdown(kGuest));
  ASSERT_EQ(guest.watch("control", "c"), "OK\0"s);
  EXPECT_TRUE(server.listens_for_shutdown(kGuest));
  EXPECT_FALSE(server.listens_for_shutdown(kGuest + 1));
  ASSERT_EQ(guest.unwatch("control", "c"), "OK\0"s);
  EXPECT_FALSE(server.listens_for_shutdown(kGuest));
  ASSERT_EQ(guest.watch("control/shutdown", "t"), "OK\0"s);
  EXPECT_TRUE(server.listens_for_shutdown(kGuest));
}

TEST_F(XenstoreServer, GuestChangesFireHostWatches) {
  std::vector<std::string> seen;
  ASSERT_TRUE(server.watch("/local/domain/1/data", "backend",
                           [&](std::string_view path, std::string_view token) {
                             seen.push_back(std::string(path) + "|" + std::string(token));
                             // Callbacks run unlocked: they may use the server.
                             EXPECT_TRUE(server.read("/local/domain/1/name"));
                           }));
  EXPECT_THAT(seen, ElementsAre("/local/domain/1/data|backend"));
  EXPECT_EQ(server.watch("/elsewhere", "backend", [](auto, auto) {}).error(), Errno::kEEXIST);
  EXPECT_EQ(guest.write("data/state", "3"), "OK\0"s);
  EXPECT_THAT(seen,
              ElementsAre("/local/domain/1/data|backend", "/local/domain/1/data/state|backend"));
  ASSERT_TRUE(server.unwatch("/local/domain/1/data", "backend"));
  EXPECT_FALSE(server.unwatch("/local/domain/1/data", "backend"));
  EXPECT_EQ(guest.write("data/state", "4"), "OK\0"s);
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(XenstoreServer, HostAccessIsUnrestricted) {
  ASSERT_TRUE(server.write("/local/domain/0/backend/vbd/1/51712/state", "2"));
  EXPECT_EQ(*server.read("/local/domain/0/backend/vbd/1/51712/state"), "2");
  ASSERT_TRUE(server.mkdir("/tool/xenstored"));
  EXPECT_THAT(*server.directory("/tool"), ElementsAre("xenstored"));
  ASSERT_TRUE(server.set_perms("/tool", {{0, Access::kRead}}));
  EXPECT_EQ(guest.read("/tool"), "");
  ASSERT_TRUE(server.rm("/tool"));
  EXPECT_EQ(server.read("/tool").error(), Errno::kENOENT);
}

TEST_F(XenstoreServer, IntroduceAndReleaseDomains) {
  std::vector<std::string> special;
  auto record = [&](std::string_view path, std::string_view) { special.emplace_back(path); };
  ASSERT_TRUE(server.watch("@introduceDomain", "i", record));
  ASSERT_TRUE(server.watch("@releaseDomain", "r", record));
  special.clear();

  FakeGuest second(server, 2);
  EXPECT_EQ(server.introduce_domain(0, second.page()).error(), Errno::kEINVAL);
  EXPECT_EQ(server.introduce_domain(DOMID_FIRST_RESERVED, second.page()).error(), Errno::kEINVAL);
  EXPECT_EQ(server.introduce_domain(kGuest, second.page()).error(), Errno::kEEXIST);
  ASSERT_TRUE(server.introduce_domain(2, second.page()));
  EXPECT_THAT(special, ElementsAre("@introduceDomain"));
  EXPECT_EQ(second.ask(XS_GET_DOMAIN_PATH, "2\0"s), "/local/domain/2\0"s);

  ASSERT_EQ(guest.watch("cpu", "t"), "OK\0"s);
  ASSERT_TRUE(server.release_domain(kGuest));
  EXPECT_THAT(special, ElementsAre("@introduceDomain", "@releaseDomain"));
  EXPECT_FALSE(server.is_introduced(kGuest));
  EXPECT_EQ(server.release_domain(kGuest).error(), Errno::kENOENT);
  // Its ring is no longer served, and its watches are gone.
  notified.clear();
  guest.send(XS_READ, "name\0"s);
  EXPECT_EQ(guest.intf().req_cons, guest.intf().req_prod - kHeaderBytes - 5);
  EXPECT_THAT(notified, IsEmpty());
  guest.intf().req_cons = guest.intf().req_prod;  // a fresh ring, as a rebooted guest has
  ASSERT_TRUE(server.introduce_domain(kGuest, guest.page()));
  guest.take_events();
  ASSERT_TRUE(server.write("/local/domain/1/cpu/0/availability", "offline"));
  EXPECT_THAT(guest.take_events(), IsEmpty());
  EXPECT_EQ(guest.read("name"), "guest");
}

TEST_F(XenstoreServer, TransactionsRetryAfterEAGAINAsLinuxDoes) {
  // drivers/xen/manage.c: shutdown_handler, with the host writing again
  // between its read and its commit.
  ASSERT_TRUE(server.request_shutdown(kGuest, "reboot"));
  int attempts = 0;
  for (;;) {
    ++attempts;
    uint32_t tx = guest.transaction_start();
    EXPECT_EQ(guest.read("control/shutdown", tx), attempts == 1 ? "reboot" : "poweroff");
    EXPECT_EQ(guest.write("control/shutdown", "", tx), "OK\0"s);
    if (attempts == 1) {
      ASSERT_TRUE(server.request_shutdown(kGuest, "poweroff"));
    }
    std::string end = guest.transaction_end(tx, true);
    if (end != "<EAGAIN>") {
      EXPECT_EQ(end, "OK\0"s);
      break;
    }
  }
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(*server.read("/local/domain/1/control/shutdown"), "");
  Counters counters = server.counters();
  EXPECT_EQ(counters.store.transaction_conflicts, 1u);
  EXPECT_EQ(counters.store.transactions_committed, 1u);
}

TEST_F(XenstoreServer, AHostileGuestOnlyBreaksItsOwnConnection) {
  FakeGuest second(server, 2);
  ASSERT_TRUE(server.introduce_domain(2, second.page()));
  ASSERT_EQ(guest.watch("cpu", "t"), "OK\0"s);
  notified.clear();

  guest.intf().req_prod = guest.intf().req_cons + 4096;  // garbage
  guest.kick();
  EXPECT_EQ(guest.intf().error, static_cast<uint32_t>(XENSTORE_ERROR_RINGIDX));
  EXPECT_THAT(notified, ElementsAre(kGuest));
  EXPECT_EQ(server.counters().ring_faults, 1u);
  for (int i = 0; i < 3; ++i)
    guest.kick();  // nothing more happens
  EXPECT_EQ(server.counters().ring_faults, 1u);
  EXPECT_EQ(server.counters().requests_of(XS_READ), 0u);

  // Its watches went with the connection; the other domain carries on.
  guest.take_events();
  ASSERT_TRUE(server.write("/local/domain/1/cpu/0/availability", "offline"));
  EXPECT_THAT(guest.take_events(), IsEmpty());
  EXPECT_EQ(second.ask(XS_GET_DOMAIN_PATH, "2\0"s), "/local/domain/2\0"s);
}

TEST_F(XenstoreServer, AnOversizedRequestStopsTheConnection) {
  xsd_sockmsg header{XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1};
  auto& intf = guest.intf();
  for (size_t i = 0; i < sizeof(header); ++i) {
    intf.req[MASK_XENSTORE_IDX(intf.req_prod++)] = reinterpret_cast<const char*>(&header)[i];
  }
  guest.kick();
  EXPECT_EQ(intf.error, static_cast<uint32_t>(XENSTORE_ERROR_PROTO));
  EXPECT_EQ(server.counters().ring_faults, 1u);
}

TEST_F(XenstoreServer, AGuestCanReconnectItsRing) {
  ASSERT_EQ(guest.watch("cpu", "t"), "OK\0"s);
  guest.intf().req_prod += 5000;
  guest.kick();
  ASSERT_NE(guest.intf().error, 0u);
  notified.clear();
  guest.intf().connection = XENSTORE_RECONNECT;
  guest.kick();
  EXPECT_EQ(guest.intf().connection, static_cast<uint32_t>(XENSTORE_CONNECTED));
  EXPECT_EQ(guest.intf().error, 0u);
  EXPECT_THAT(notified, ElementsAre(kGuest));
  EXPECT_EQ(server.counters().reconnects, 1u);
  guest.take_events();
  ASSERT_TRUE(server.write("/local/domain/1/cpu/0/availability", "offline"));
  EXPECT_THAT(guest.take_events(), IsEmpty());  // the watch went with the old connection
  EXPECT_EQ(guest.read("name"), "guest");
}

TEST_F(XenstoreServer, AGuestThatDoesNotReadRepliesIsThrottled) {
  ASSERT_TRUE(server.write("/local/domain/1/data/big", std::string(4000, 'b')));
  ASSERT_EQ(guest.watch("data", "t"), "OK\0"s);
  guest.take_events();
  auto& intf = guest.intf();
  std::string request = encode(Message{{XS_READ, 7, 0, 0}, "data/big\0"s});
  // Write requests whenever there is room, never reading a reply.
  for (int round = 0; round < 200; ++round) {
    while (intf.req_prod - intf.req_cons + request.size() <= XENSTORE_RING_SIZE) {
      for (char c : request)
        intf.req[MASK_XENSTORE_IDX(intf.req_prod++)] = c;
    }
    guest.kick();
  }
  EXPECT_GT(intf.req_prod, intf.req_cons);  // the server stopped taking requests
  uint64_t answered = server.counters().requests_of(XS_READ);
  EXPECT_LE(answered * (kHeaderBytes + 4000), Server::kRequestBacklogBytes + 80 * 4016);

  // Watch events beyond the backlog are dropped, not queued without end.
  std::string long_path = "/local/domain/1/data/" + std::string(2000, 'x');
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(server.write(long_path, "1"));
  EXPECT_GT(server.counters().watch_events_dropped, 0u);
}

TEST_F(XenstoreServer, CountersSayWhatHappened) {
  guest.read("name");
  guest.read("missing");
  guest.read("/local/domain/0");
  guest.write("data/x", "1");
  guest.ask(200, "");
  Counters counters = server.counters();
  EXPECT_EQ(counters.requests_of(XS_READ), 3u);
  EXPECT_EQ(counters.requests_of(XS_WRITE), 1u);
  EXPECT_EQ(counters.unknown_requests, 1u);
  EXPECT_EQ(counters.errors_of(Errno::kENOENT), 1u);
  EXPECT_EQ(counters.errors_of(Errno::kEACCES), 1u);
  EXPECT_EQ(counters.errors_of(Errno::kENOSYS), 1u);
  EXPECT_GT(counters.kicks, 0u);
  auto named = counters.named();
  EXPECT_THAT(named, Contains(Pair("requests.READ", 3u)));
  EXPECT_THAT(named, Contains(Pair("errors.ENOENT", 1u)));
  EXPECT_THAT(named, Contains(Pair("requests.unknown", 1u)));
  for (const auto& [name, value] : named)
    EXPECT_NE(value, 0u) << name;
}

TEST_F(XenstoreServer, HostAndGuestMayUseItFromDifferentThreads) {
  std::atomic<bool> stop = false;
  std::thread host([&] {
    for (int i = 0; !stop; ++i) {
      EXPECT_TRUE(server.write("/local/domain/1/memory/target", std::to_string(i)));
    }
  });
  ASSERT_EQ(guest.watch("memory/target", "balloon"), "OK\0"s);
  for (int i = 0; i < 200; ++i)
    EXPECT_NE(guest.read("memory/target"), "<ENOENT>");
  stop = true;
  host.join();
  EXPECT_FALSE(guest.take_events().empty());
}

// Well-framed requests with random types and contents: every one gets a
// reply, and the store stays consistent.
TEST_F(XenstoreServer, AnswersRandomRequests) {
  const std::vector<std::string> words = {"data",
                                          "data/a",
                                          "data/a/b",
                                          "/local/domain/1/data/c",
                                          "/",
                                          "/local/domain/0",
                                          "cpu",
                                          "@releaseDomain",
                                          "@introduceDomain",
                                          "bad//path",
                                          "",
                                          "n1",
                                          "r0",
                                          "b2",
                                          "w1",
                                          "x9",
                                          "T",
                                          "F",
                                          "1",
                                          "65535",
                                          "-1",
                                          "control/shutdown",
                                          "memory/target",
                                          "device"};
  std::mt19937 random(42);
  uint32_t last_tx = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string payload;
    for (unsigned n = random() % 4; n > 0; --n)
      payload += words[random() % words.size()] + '\0';
    if (random() % 4 == 0) payload += words[random() % words.size()];  // unterminated
    uint32_t type = static_cast<uint32_t>(random() % (XS_TYPE_COUNT + 2));
    uint32_t tx = random() % 3 == 0 ? last_tx : 0;
    Message reply = guest.call(type, payload, tx);
    if (type == XS_TRANSACTION_START && reply.header.type == XS_TRANSACTION_START) {
      last_tx = static_cast<uint32_t>(std::stoul(reply.payload));
    }
    ASSERT_NE(reply.header.type, static_cast<uint32_t>(XS_WATCH_EVENT));
  }
  EXPECT_EQ(server.counters().ring_faults, 0u);
  EXPECT_EQ(guest.read("name"), "guest");
  EXPECT_EQ(*server.read("/local/domain/1/name"), "guest");
}

// The traffic of a Debian 6.1 PV domU at boot (linux-pv-guest.md §8.2).
TEST_F(XenstoreServer, ScriptedLinuxBoot) {
  // Balloon driver.
  EXPECT_EQ(guest.watch("memory/target", "balloon"), "OK\0"s);
  EXPECT_EQ(guest.read("memory/target"), "524288");
  EXPECT_EQ(guest.read("memory/static-max"), "524288");
  // manage.c: watches, then features; the first shutdown_handler run finds
  // nothing to do and aborts its transaction.
  EXPECT_EQ(guest.watch("control/shutdown", "shutdown"), "OK\0"s);
  EXPECT_EQ(guest.watch("control/sysrq", "sysrq"), "OK\0"s);
  for (const char* feature : {"feature-poweroff", "feature-reboot", "feature-suspend"}) {
    EXPECT_EQ(guest.write("control/"s + feature, "1"), "OK\0"s);
  }
  uint32_t tx = guest.transaction_start();
  EXPECT_EQ(guest.read("control/shutdown", tx), "");
  EXPECT_EQ(guest.transaction_end(tx, false), "OK\0"s);
  EXPECT_EQ(guest.read("control/sysrq"), "");
  // cpu_hotplug.c.
  EXPECT_EQ(guest.watch("cpu", "cpu"), "OK\0"s);
  EXPECT_EQ(guest.read("cpu/0/availability"), "online");
  // The frontend bus: no devices.
  EXPECT_EQ(guest.watch("device", "frontend"), "OK\0"s);
  EXPECT_EQ(guest.ask(XS_DIRECTORY, "device\0"s), "suspend\0"s);
  EXPECT_EQ(guest.ask(XS_DIRECTORY, "device/vbd\0"s), "<ENOENT>");
  // sys-hypervisor's uuid.
  std::string vm = guest.read("vm");
  EXPECT_EQ(guest.read(vm + "/uuid"), "00000000-0000-0000-0000-000000000000");
  EXPECT_THAT(guest.take_events(),
              ElementsAre("memory/target|balloon", "control/shutdown|shutdown",
                          "control/sysrq|sysrq", "cpu|cpu", "device|frontend"));

  // `xl shutdown`: the watch fires, and the guest acknowledges in a
  // transaction.
  notified.clear();
  ASSERT_TRUE(server.request_shutdown(kGuest, "poweroff"));
  EXPECT_THAT(notified, ElementsAre(kGuest));
  EXPECT_THAT(guest.take_events(), ElementsAre("control/shutdown|shutdown"));
  tx = guest.transaction_start();
  EXPECT_EQ(guest.read("control/shutdown", tx), "poweroff");
  EXPECT_EQ(guest.write("control/shutdown", "", tx), "OK\0"s);
  EXPECT_EQ(guest.transaction_end(tx, true), "OK\0"s);
  EXPECT_EQ(*server.read("/local/domain/1/control/shutdown"), "");
  EXPECT_EQ(*server.read("/local/domain/1/control/feature-poweroff"), "1");
  EXPECT_THAT(guest.take_events(), ElementsAre("control/shutdown|shutdown"));

  Counters counters = server.counters();
  EXPECT_EQ(counters.requests_of(XS_WATCH), 5u);
  EXPECT_EQ(counters.errors_of(Errno::kENOENT), 1u);
  EXPECT_EQ(counters.ring_faults, 0u);
}

}  // namespace
}  // namespace xpv::backends::xenstore
