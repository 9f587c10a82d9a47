// The xenstore database (docs/misc/xenstore.txt): a tree of nodes, each
// with a value and permissions; transactions that work on a snapshot and
// fail with EAGAIN at commit if another writer touched what they used; and
// watches. Every operation takes the Caller it acts for and checks that
// domain's permissions. Not thread-safe: Server serialises access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backends/xenstore/error.hpp"
#include "backends/xenstore/path.hpp"
#include "backends/xenstore/permissions.hpp"
#include "backends/xenstore/watches.hpp"

namespace xpv::backends::xenstore {

// The connection xpv's own (dom0) users share; guests' connections are
// numbered by domid, and this lies above every domid.
inline constexpr ConnectionId kHostConnection = 0x10000;

// Whom an operation acts for: the domain whose permissions apply, and the
// connection that owns its watches and transactions.
struct Caller {
  domid_t domid = kControlDomain;
  ConnectionId connection = kHostConnection;

  // A guest's ring connection; a domain has one.
  static Caller domain(domid_t domid) { return Caller{domid, domid}; }
  // xpv itself, as the control domain.
  static Caller host() { return Caller{}; }
  bool privileged() const { return domid == kControlDomain; }
};

using TransactionId = uint32_t;
inline constexpr TransactionId kNoTransaction = 0;

struct Node {
  std::string value;
  Permissions permissions;
  std::set<std::string, std::less<>> children;  // leaf names
  // Changes whenever value, permissions or children do; transactions
  // compare it at commit.
  uint64_t generation = 0;
};

// Limits on what an unprivileged domain may consume; the defaults are
// Xen's xenstored's. The control domain has none.
struct Quotas {
  size_t nodes_per_domain = 1000;
  size_t value_bytes = 2048;
  size_t watches_per_connection = 128;
  size_t transactions_per_connection = 10;
};

struct StoreCounters {
  uint64_t watch_events = 0;  // handed to the event sink
  uint64_t transactions_started = 0;
  uint64_t transactions_committed = 0;
  uint64_t transactions_aborted = 0;
  uint64_t transaction_conflicts = 0;  // commits refused with EAGAIN
};

class Store {
 public:
  // Receives every watch event; must not call back into the Store.
  using EventSink = std::function<void(WatchEvent event)>;

  explicit Store(Quotas quotas = {});

  void set_event_sink(EventSink sink) { sink_ = std::move(sink); }

  // The database operations. `transaction` is kNoTransaction or an id the
  // caller's connection started; paths may be relative (to the caller's
  // domain home). A missing node is ENOENT, or EACCES if the caller could
  // not read its closest existing ancestor.
  Result<std::string> read(const Caller& caller, TransactionId transaction, std::string_view path);
  // Creates missing parents; new nodes inherit their parent's permissions,
  // and an unprivileged creator becomes their owner.
  Result<void> write(const Caller& caller, TransactionId transaction, std::string_view path,
                     std::string_view value);
  Result<void> mkdir(const Caller& caller, TransactionId transaction, std::string_view path);
  // Removes the node and everything below it. OK if it does not exist but
  // its parent does.
  Result<void> rm(const Caller& caller, TransactionId transaction, std::string_view path);
  Result<std::vector<std::string>> directory(const Caller& caller, TransactionId transaction,
                                             std::string_view path);
  Result<Permissions> get_perms(const Caller& caller, TransactionId transaction,
                                std::string_view path);
  // Only the owner may; only the control domain may change the owner.
  Result<void> set_perms(const Caller& caller, TransactionId transaction, std::string_view path,
                         Permissions permissions);

  Result<TransactionId> transaction_start(const Caller& caller);
  // Commits (EAGAIN on a conflict; the transaction is gone either way) or
  // discards the transaction.
  Result<void> transaction_end(const Caller& caller, TransactionId transaction, bool commit);

  // Registers a watch and fires it once straight away.
  Result<void> watch(const Caller& caller, std::string_view path, std::string_view token);
  Result<void> unwatch(const Caller& caller, std::string_view path, std::string_view token);

  // Forgets a connection's watches and transactions: RESET_WATCHES, a ring
  // reset, a released domain.
  void reset_connection(ConnectionId connection);
  // Fires the watches on a special path (@introduceDomain, @releaseDomain).
  void fire_special(std::string_view path);
  // SET_TARGET: `domid` gets `target`'s rights.
  void set_target(domid_t domid, domid_t target);

  size_t node_count() const { return main_.size(); }
  size_t nodes_owned_by(domid_t domid) const { return main_.owned_by(domid); }
  size_t watch_count(ConnectionId connection) const { return watches_.count(connection); }
  bool watched_by(domid_t domid, std::string_view absolute_path) const {
    return watches_.watched_by(domid, absolute_path);
  }
  size_t transaction_count(ConnectionId connection) const;
  const StoreCounters& counters() const { return counters_; }

 private:
  class Tree {
   public:
    Tree();  // just "/", owned by the control domain, closed to others
    const Node* find(std::string_view path) const;
    Node* find(std::string_view path);
    // Adds or replaces a node, keeping per-owner counts.
    void put(const std::string& path, Node node);
    void erase(std::string_view path);
    void set_permissions(std::string_view path, Permissions permissions);
    // `path` and every path below it.
    std::vector<std::string> subtree(std::string_view path) const;
    size_t owned_by(domid_t domid) const;
    size_t size() const { return nodes_.size(); }

   private:
    void count(const Node& node, int delta);
    std::map<std::string, Node, std::less<>> nodes_;
    std::map<domid_t, size_t> owned_;
  };

  struct Transaction {
    ConnectionId connection = 0;
    Tree tree;  // the snapshot, with the transaction's own changes
    // Generation of every path the transaction looked at, as it was in the
    // snapshot (0: absent). Commit fails if any differs in the main tree.
    std::map<std::string, uint64_t, std::less<>> observed;
    std::set<std::string, std::less<>> modified;
    std::vector<Change> changes;  // fired at commit
  };

  // What one operation works on: a tree (its transaction's, if any), for a
  // caller, at a path.
  struct Context {
    Tree* tree;
    Transaction* transaction;  // null outside transactions
    domid_t domid;
    domid_t target;
    std::string path;  // absolute
    bool privileged() const { return domid == kControlDomain; }
  };
  // Whether an operation also takes special ('@') paths, which name no node.
  enum class Paths { kNodes, kNodesAndSpecial };

  // ENOENT for a transaction the caller's connection does not own, then
  // the path's own errors (resolve_path).
  Result<Context> context(const Caller& caller, TransactionId transaction, std::string_view path,
                          Paths paths = Paths::kNodes);
  const Node* lookup(Context& cx, const std::string& path);
  Node& touch(Context& cx, const std::string& path);
  Errno missing(Context& cx, const std::string& path);
  Result<const Node*> readable(Context& cx, const std::string& path);
  Result<void> create(Context& cx, const std::string& path);
  void record(Context& cx, Change change);
  void fire(const Change& change);
  void emit(WatchEvent event);
  domid_t target_of(domid_t domid) const;
  uint64_t next_generation() { return ++generation_; }

  Quotas quotas_;
  Tree main_;
  std::map<TransactionId, Transaction> transactions_;
  TransactionId next_transaction_ = 1;
  uint64_t generation_ = 1;
  WatchList watches_;
  std::map<std::string, Permissions, std::less<>> special_permissions_;
  std::map<domid_t, domid_t> targets_;
  EventSink sink_;
  StoreCounters counters_;
};

}  // namespace xpv::backends::xenstore
