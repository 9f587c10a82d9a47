#include "backends/xenstore/server.hpp"

#include "backends/xenstore/domain_nodes.hpp"

namespace xpv::backends::xenstore {

namespace {

const std::string kOk("OK", 3);

Result<std::string> ok_or_error(const Result<void>& result) {
  if (!result) return result.error();
  return kOk;
}

std::string with_nul(std::string text) {
  text += '\0';
  return text;
}

bool real_domain(domid_t domid) {
  return domid != kControlDomain && domid < DOMID_FIRST_RESERVED;
}

}  // namespace

// --- Counters ------------------------------------------------------------

uint64_t Counters::requests_of(uint32_t type) const {
  return message_type_name(type) != "UNKNOWN" ? requests[type] : unknown_requests;
}

uint64_t Counters::errors_of(Errno error) const {
  return errors[errno_index(error)];
}

std::vector<std::pair<std::string, uint64_t>> Counters::named() const {
  std::vector<std::pair<std::string, uint64_t>> named;
  auto add = [&](std::string name, uint64_t value) {
    if (value != 0) named.emplace_back(std::move(name), value);
  };
  for (uint32_t type = 0; type < requests.size(); ++type) {
    if (message_type_name(type) != "UNKNOWN") {
      add("requests." + std::string(message_type_name(type)), requests[type]);
    }
  }
  add("requests.unknown", unknown_requests);
  for (Errno error : kAllErrnos)
    add("errors." + std::string(errno_name(error)), errors_of(error));
  add("kicks", kicks);
  add("ring_faults", ring_faults);
  add("reconnects", reconnects);
  add("watch_events.sent", watch_events_sent);
  add("watch_events.dropped", watch_events_dropped);
  add("transactions.started", store.transactions_started);
  add("transactions.committed", store.transactions_committed);
  add("transactions.aborted", store.transactions_aborted);
  add("transactions.conflicts", store.transaction_conflicts);
  return named;
}

// --- Server --------------------------------------------------------------

Server::Server(NotifyGuest notify_guest, Quotas quotas)
    : notify_guest_(std::move(notify_guest)), store_(quotas) {
  store_.set_event_sink([this](WatchEvent event) { events_.push_back(std::move(event)); });
}

void Server::run(Deferred deferred) {
  if (notify_guest_) {
    for (domid_t domid : deferred.notify)
      notify_guest_(domid);
  }
  for (auto& [callback, event] : deferred.host_events)
    callback(event.path, event.token);
}

Result<void> Server::introduce_domain(domid_t domid, Ring::Page page) {
  return locked([&]() -> Result<void> {
    if (!real_domain(domid)) return Errno::kEINVAL;
    if (connections_.contains(domid)) return Errno::kEEXIST;
    connections_.emplace(domid, std::make_unique<Connection>(domid, page));
    store_.fire_special(kIntroduceDomain);
    return {};
  });
}

Result<void> Server::release_domain(domid_t domid) {
  return locked([&] { return release_locked(domid); });
}

Result<void> Server::release_locked(domid_t domid) {
  if (connections_.erase(domid) == 0) return Errno::kENOENT;
  store_.reset_connection(Caller::domain(domid).connection);
  std::erase_if(events_, [&](const WatchEvent& e) { return e.connection == domid; });
  store_.fire_special(kReleaseDomain);
  return {};
}

bool Server::is_introduced(domid_t domid) const {
  std::lock_guard lock(mutex_);
  return connections_.contains(domid);
}

void Server::on_guest_kick(domid_t domid) {
  locked([&] {
    ++counters_.kicks;
    auto it = connections_.find(domid);
    if (it != connections_.end()) serve(*it->second);
  });
}

void Server::serve(Connection& connection) {
  Ring& ring = connection.ring;
  if (ring.reconnect_requested()) {
    // xenstore-ring.txt: drop everything the connection had, then reset.
    store_.reset_connection(Caller::domain(connection.domid).connection);
    ring.reconnect();
    connection.faulted = false;
    ++counters_.reconnects;
  }
  if (ring.queued_bytes() < kRequestBacklogBytes) {
    for (const Message& request : ring.receive()) {
      ring.send(handle(connection, request));
      distribute_events();  // after the reply: WATCH's first event follows its OK
    }
  }
  note_fault(connection);
}

void Server::note_fault(Connection& connection) {
  if (connection.faulted || connection.ring.fault() == Ring::Fault::kNone) return;
  // xenstore-ring.txt: a stopped connection loses its watches and
  // transactions.
  connection.faulted = true;
  ++counters_.ring_faults;
  store_.reset_connection(Caller::domain(connection.domid).connection);
  deferred_.notify.insert(connection.domid);
}

Message Server::handle(Connection& connection, const Message& request) {
  uint32_t type = request.header.type;
  if (message_type_name(type) != "UNKNOWN") {
    ++counters_.requests[type];
  } else {
    ++counters_.unknown_requests;
  }
  Result<std::string> payload = Errno::kEINVAL;
  if (auto parsed = parse_request(request)) {
    payload = execute(Caller::domain(connection.domid), request.header.tx_id, *parsed);
  } else {
    payload = parsed.error();
  }
  if (payload && payload->size() > kPayloadMax) payload = Errno::kE2BIG;
  if (!payload) {
    ++counters_.errors[errno_index(payload.error())];
    return reply_error(request.header, payload.error());
  }
  return reply(request.header, std::move(*payload));
}

Result<std::string> Server::execute(const Caller& caller, TransactionId tx,
                                    const Request& request) {
  using namespace requests;
  if (auto* r = std::get_if<Read>(&request)) return store_.read(caller, tx, r->path);
  if (auto* r = std::get_if<Write>(&request)) {
    return ok_or_error(store_.write(caller, tx, r->path, r->value));
  }
  if (auto* r = std::get_if<Mkdir>(&request)) return ok_or_error(store_.mkdir(caller, tx, r->path));
  if (auto* r = std::get_if<Rm>(&request)) return ok_or_error(store_.rm(caller, tx, r->path));
  if (auto* r = std::get_if<Directory>(&request)) {
    auto children = store_.directory(caller, tx, r->path);
    if (!children) return children.error();
    return nul_terminated(*children);
  }
  if (auto* r = std::get_if<GetPerms>(&request)) {
    auto permissions = store_.get_perms(caller, tx, r->path);
    if (!permissions) return permissions.error();
    std::vector<std::string> strings;
    for (const Permission& p : *permissions)
      strings.push_back(format_permission(p));
    return nul_terminated(strings);
  }
  if (auto* r = std::get_if<SetPerms>(&request)) {
    return ok_or_error(store_.set_perms(caller, tx, r->path, r->permissions));
  }
  // The tx_id of a WATCH is ignored (xenstore.txt), and so is any other
  // request's below that does not use it.
  if (auto* r = std::get_if<Watch>(&request)) {
    return ok_or_error(store_.watch(caller, r->path, r->token));
  }
  if (auto* r = std::get_if<Unwatch>(&request)) {
    return ok_or_error(store_.unwatch(caller, r->path, r->token));
  }
  if (std::holds_alternative<TransactionStart>(request)) {
    auto id = store_.transaction_start(caller);
    if (!id) return id.error();
    return with_nul(std::to_string(*id));
  }
  if (auto* r = std::get_if<TransactionEnd>(&request)) {
    return ok_or_error(store_.transaction_end(caller, tx, r->commit));
  }
  if (auto* r = std::get_if<GetDomainPath>(&request)) return with_nul(home_path(r->domid));
  if (std::holds_alternative<ResetWatches>(request)) {
    store_.reset_connection(caller.connection);
    return kOk;
  }
  return execute_control(caller, request);
}

// Domain management: the control domain's alone (xenstore.txt).
Result<std::string> Server::execute_control(const Caller& caller, const Request& request) {
  using namespace requests;
  if (!caller.privileged()) return Errno::kEACCES;
  if (auto* r = std::get_if<Introduce>(&request)) {
    if (!real_domain(r->domid)) return Errno::kEINVAL;
    if (connections_.contains(r->domid)) return kOk;  // already served
    // xpv introduces domains itself, with the ring page already mapped
    // (introduce_domain); mapping a gfn named on the wire is not supported.
    return Errno::kENOSYS;
  }
  if (auto* r = std::get_if<Release>(&request)) return ok_or_error(release_locked(r->domid));
  if (auto* r = std::get_if<IsDomainIntroduced>(&request)) {
    return with_nul(connections_.contains(r->domid) ? "T" : "F");
  }
  if (auto* r = std::get_if<Resume>(&request)) {
    if (!connections_.contains(r->domid)) return Errno::kENOENT;
    return kOk;
  }
  if (auto* r = std::get_if<SetTarget>(&request)) {
    store_.set_target(r->domid, r->target);
    return kOk;
  }
  return Errno::kENOSYS;
}

void Server::distribute_events() {
  for (WatchEvent& event : events_) {
    if (event.connection == kHostConnection) {
      auto it = host_watches_.find(event.token);
      if (it == host_watches_.end()) continue;
      ++counters_.watch_events_sent;
      deferred_.host_events.emplace_back(it->second, std::move(event));
      continue;
    }
    auto it = connections_.find(static_cast<domid_t>(event.connection));
    if (it == connections_.end()) continue;
    Ring& ring = it->second->ring;
    Message message = watch_event_message(event.path, event.token);
    if (message.payload.size() > kPayloadMax || ring.queued_bytes() > kEventBacklogBytes) {
      ++counters_.watch_events_dropped;
      continue;
    }
    ring.send(message);
    ++counters_.watch_events_sent;
  }
  events_.clear();
}

void Server::flush_connections() {
  for (auto& [domid, connection] : connections_) {
    connection->ring.flush();
    note_fault(*connection);
    if (connection->ring.take_notification()) deferred_.notify.insert(domid);
  }
}

// --- Host access -----------------------------------------------------------

Result<std::string> Server::read(std::string_view path) {
  return locked([&] { return store_.read(Caller::host(), kNoTransaction, path); });
}

Result<void> Server::write(std::string_view path, std::string_view value) {
  return locked([&] { return store_.write(Caller::host(), kNoTransaction, path, value); });
}

Result<void> Server::mkdir(std::string_view path) {
  return locked([&] { return store_.mkdir(Caller::host(), kNoTransaction, path); });
}

Result<void> Server::rm(std::string_view path) {
  return locked([&] { return store_.rm(Caller::host(), kNoTransaction, path); });
}

Result<std::vector<std::string>> Server::directory(std::string_view path) {
  return locked([&] { return store_.directory(Caller::host(), kNoTransaction, path); });
}

Result<void> Server::set_perms(std::string_view path, Permissions permissions) {
  return locked([&] {
    return store_.set_perms(Caller::host(), kNoTransaction, path, std::move(permissions));
  });
}

Result<void> Server::watch(std::string_view path, std::string_view token, HostWatch callback) {
  return locked([&]() -> Result<void> {
    if (host_watches_.contains(token)) return Errno::kEEXIST;
    auto [it, inserted] = host_watches_.emplace(std::string(token), std::move(callback));
    auto added = store_.watch(Caller::host(), path, token);
    if (!added) host_watches_.erase(it);
    return added;
  });
}

Result<void> Server::unwatch(std::string_view path, std::string_view token) {
  return locked([&]() -> Result<void> {
    auto removed = store_.unwatch(Caller::host(), path, token);
    if (!removed) return removed;
    if (auto it = host_watches_.find(token); it != host_watches_.end()) host_watches_.erase(it);
    return removed;
  });
}

Result<void> Server::request_shutdown(domid_t domid, std::string_view reason) {
  return locked([&] { return xenstore::request_shutdown(store_, domid, reason); });
}

bool Server::listens_for_shutdown(domid_t domid) const {
  std::lock_guard lock(mutex_);
  return store_.watched_by(domid, home_path(domid) + "/control/shutdown");
}

Counters Server::counters() const {
  std::lock_guard lock(mutex_);
  Counters counters = counters_;
  counters.store = store_.counters();
  return counters;
}

}  // namespace xpv::backends::xenstore
