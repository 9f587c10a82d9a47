// xpv's xenstored: the Store, one ring connection per guest domain, and
// xpv's own (control-domain) access for the toolstack and backends. A
// guest's kick on its store event channel becomes on_guest_kick(); when a
// guest must be told that its ring moved, the Server calls the notify
// callback it was built with. Thread-safe: one mutex serialises every call,
// and callbacks (notify, host watches) run after it is released, so they
// may call back into the Server.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/xenstore/error.hpp"
#include "backends/xenstore/protocol.hpp"
#include "backends/xenstore/ring.hpp"
#include "backends/xenstore/store.hpp"

namespace xpv::backends::xenstore {

// What a user can read about the server (`--stats`, `xpv top`).
struct Counters {
  std::array<uint64_t, XS_TYPE_COUNT> requests{};  // by xsd_sockmsg type
  uint64_t unknown_requests = 0;                   // types xs_wire.h does not name
  std::array<uint64_t, kErrnoCount> errors{};      // ERROR replies, by kAllErrnos position
  uint64_t kicks = 0;
  uint64_t ring_faults = 0;  // rings stopped for bad indices or oversized messages
  uint64_t reconnects = 0;
  uint64_t watch_events_sent = 0;
  uint64_t watch_events_dropped = 0;  // a guest not reading its ring, or oversized
  StoreCounters store;

  uint64_t requests_of(uint32_t type) const;
  uint64_t errors_of(Errno error) const;
  // Every non-zero counter by name ("requests.READ", "errors.ENOENT", ...).
  std::vector<std::pair<std::string, uint64_t>> named() const;
};

class Server {
 public:
  using NotifyGuest = std::function<void(domid_t domid)>;
  using HostWatch = std::function<void(std::string_view path, std::string_view token)>;

  // A guest's queued replies beyond which its requests wait, and queued
  // output beyond which its watch events are dropped.
  static constexpr size_t kRequestBacklogBytes = 64 * 1024;
  static constexpr size_t kEventBacklogBytes = 256 * 1024;

  explicit Server(NotifyGuest notify_guest, Quotas quotas = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `domid`'s ring in `page` (guest memory the host has mapped; it
  // must stay mapped until release_domain) and fires @introduceDomain.
  // EINVAL for domain 0 or a reserved domid, EEXIST if already served.
  Result<void> introduce_domain(domid_t domid, Ring::Page page);
  // Stops serving the ring, drops the domain's watches and transactions
  // and fires @releaseDomain. Its nodes stay. ENOENT if not introduced.
  Result<void> release_domain(domid_t domid);
  bool is_introduced(domid_t domid) const;

  // The guest signalled its store event channel: handle every complete
  // request in its ring, queue replies and events, and notify it if its
  // ring moved.
  void on_guest_kick(domid_t domid);

  // xpv's own access, as the control domain: absolute paths, no
  // permission limits, watch events by callback.
  Result<std::string> read(std::string_view path);
  Result<void> write(std::string_view path, std::string_view value);
  Result<void> mkdir(std::string_view path);
  Result<void> rm(std::string_view path);
  Result<std::vector<std::string>> directory(std::string_view path);
  Result<void> set_perms(std::string_view path, Permissions permissions);
  // Fires `callback` once now and on every change at or below `path`.
  // Tokens name host watches: EEXIST if `token` is taken.
  Result<void> watch(std::string_view path, std::string_view token, HostWatch callback);
  Result<void> unwatch(std::string_view path, std::string_view token);

  // See domain_nodes.hpp.
  Result<void> request_shutdown(domid_t domid, std::string_view reason);
  // Whether the domain watches its control/shutdown node, i.e. would act on
  // request_shutdown (a PV Linux does once its xenbus is up).
  bool listens_for_shutdown(domid_t domid) const;

  // Runs `f(Store&)` under the lock, then delivers the watch events it
  // caused: for populate_domain, or several changes at once. `f` must not
  // call the Server.
  template <typename F>
  decltype(auto) with_store(F&& f) {
    return locked([&] { return f(store_); });
  }

  Counters counters() const;

 private:
  struct Connection {
    Connection(domid_t id, Ring::Page page) : domid(id), ring(page) {}
    domid_t domid;
    Ring ring;
    bool faulted = false;
  };
  // Work to do once the lock is released.
  struct Deferred {
    std::set<domid_t> notify;
    std::vector<std::pair<HostWatch, WatchEvent>> host_events;
  };

  template <typename F>
  decltype(auto) locked(F&& f);
  void run(Deferred deferred);

  void serve(Connection& connection);
  Message handle(Connection& connection, const Message& request);
  Result<std::string> execute(const Caller& caller, TransactionId transaction,
                              const Request& request);
  Result<std::string> execute_control(const Caller& caller, const Request& request);
  Result<void> release_locked(domid_t domid);
  void note_fault(Connection& connection);
  void distribute_events();
  void flush_connections();

  NotifyGuest notify_guest_;
  mutable std::mutex mutex_;
  Store store_;
  std::map<domid_t, std::unique_ptr<Connection>> connections_;
  std::map<std::string, HostWatch, std::less<>> host_watches_;  // by token
  std::vector<WatchEvent> events_;                              // from the store, not yet delivered
  Deferred deferred_;
  Counters counters_;
};

template <typename F>
decltype(auto) Server::locked(F&& f) {
  Deferred deferred;
  auto finish = [&] {
    distribute_events();
    flush_connections();
    deferred = std::exchange(deferred_, {});
  };
  if constexpr (std::is_void_v<decltype(f())>) {
    {
      std::lock_guard lock(mutex_);
      f();
      finish();
    }
    run(std::move(deferred));
  } else {
    auto result = [&] {
      std::lock_guard lock(mutex_);
      auto value = f();
      finish();
      return value;
    }();
    run(std::move(deferred));
    return result;
  }
}

}  // namespace xpv::backends::xenstore
