#include "backends/xenstore/store.hpp"

#include <algorithm>

namespace xpv::backends::xenstore {

// --- Tree ---------------------------------------------------------------

Store::Tree::Tree() {
  put("/", Node{"", {Permission{kControlDomain, Access::kNone}}, {}, 1});
}

const Node* Store::Tree::find(std::string_view path) const {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

Node* Store::Tree::find(std::string_view path) {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

void Store::Tree::count(const Node& node, int delta) {
  domid_t owner = node.permissions.front().domid;
  owned_[owner] = static_cast<size_t>(static_cast<long>(owned_[owner]) + delta);
}

void Store::Tree::put(const std::string& path, Node node) {
  if (const Node* old = find(path)) count(*old, -1);
  count(node, +1);
  nodes_.insert_or_assign(path, std::move(node));
}

void Store::Tree::erase(std::string_view path) {
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return;
  count(it->second, -1);
  nodes_.erase(it);
}

void Store::Tree::set_permissions(std::string_view path, Permissions permissions) {
  Node* node = find(path);
  count(*node, -1);
  node->permissions = std::move(permissions);
  count(*node, +1);
}

std::vector<std::string> Store::Tree::subtree(std::string_view path) const {
  std::vector<std::string> paths{std::string(path)};
  // Every path below `path` starts with "path/"; in the map's order they
  // are contiguous, ending before "path0" ('0' follows '/').
  std::string below(path);
  below += '/';
  std::string after(path);
  after += static_cast<char>('/' + 1);
  for (auto it = nodes_.lower_bound(below); it != nodes_.end() && it->first < after; ++it) {
    paths.push_back(it->first);
  }
  return paths;
}

size_t Store::Tree::owned_by(domid_t domid) const {
  auto it = owned_.find(domid);
  return it == owned_.end() ? 0 : it->second;
}

// --- Operations ---------------------------------------------------------

Store::Store(Quotas quotas) : quotas_(quotas) {
  for (std::string_view special : {kIntroduceDomain, kReleaseDomain}) {
    special_permissions_.emplace(special, Permissions{{kControlDomain, Access::kNone}});
  }
}

Result<Store::Context> Store::context(const Caller& caller, TransactionId transaction,
                                      std::string_view path, Paths paths) {
  Context cx{&main_, nullptr, caller.domid, target_of(caller.domid), {}};
  if (transaction != kNoTransaction) {
    auto it = transactions_.find(transaction);
    if (it == transactions_.end() || it->second.connection != caller.connection) {
      return Errno::kENOENT;
    }
    cx.transaction = &it->second;
    cx.tree = &it->second.tree;
  }
  auto resolved = paths == Paths::kNodes ? resolve_path(caller.domid, path)
                                         : resolve_watch_path(caller.domid, path);
  if (!resolved) return resolved.error();
  cx.path = std::move(resolved->absolute);
  return cx;
}

const Node* Store::lookup(Context& cx, const std::string& path) {
  const Node* node = cx.tree->find(path);
  if (cx.transaction) cx.transaction->observed.try_emplace(path, node ? node->generation : 0);
  return node;
}

Node& Store::touch(Context& cx, const std::string& path) {
  Node* node = cx.tree->find(path);
  if (cx.transaction) {
    cx.transaction->observed.try_emplace(path, node->generation);
    cx.transaction->modified.insert(path);
  }
  node->generation = next_generation();
  return *node;
}

Errno Store::missing(Context& cx, const std::string& path) {
  // Say ENOENT only to a caller who could list the closest existing
  // ancestor: anyone else learns nothing about what is below it.
  std::string ancestor(parent_path(path));
  const Node* node = lookup(cx, ancestor);
  while (!node) {
    ancestor = std::string(parent_path(ancestor));
    node = lookup(cx, ancestor);
  }
  return permits(node->permissions, cx.domid, Access::kRead, cx.target) ? Errno::kENOENT
                                                                        : Errno::kEACCES;
}

Result<const Node*> Store::readable(Context& cx, const std::string& path) {
  const Node* node = lookup(cx, path);
  if (!node) return missing(cx, path);
  if (!permits(node->permissions, cx.domid, Access::kRead, cx.target)) return Errno::kEACCES;
  return node;
}

Result<void> Store::create(Context& cx, const std::string& path) {
  std::vector<std::string> absent;
  std::string existing = path;
  const Node* ancestor = lookup(cx, existing);
  while (!ancestor) {
    absent.push_back(existing);
    existing = std::string(parent_path(existing));
    ancestor = lookup(cx, existing);
  }
  if (!permits(ancestor->permissions, cx.domid, Access::kWrite, cx.target)) {
    return Errno::kEACCES;
  }
  Permissions permissions = ancestor->permissions;
  if (!cx.privileged()) {
    if (cx.tree->owned_by(cx.domid) + absent.size() > quotas_.nodes_per_domain) {
      return Errno::kENOSPC;
    }
    permissions.front().domid = cx.domid;  // unprivileged domains own what they create
  }
  for (auto it = absent.rbegin(); it != absent.rend(); ++it) {
    touch(cx, std::string(parent_path(*it))).children.emplace(leaf_name(*it));
    cx.tree->put(*it, Node{"", permissions, {}, next_generation()});
    if (cx.transaction) cx.transaction->modified.insert(*it);
  }
  return {};
}

void Store::record(Context& cx, Change change) {
  if (cx.transaction) {
    cx.transaction->changes.push_back(std::move(change));
  } else {
    fire(change);
  }
}

Result<std::string> Store::read(const Caller& caller, TransactionId transaction,
                                std::string_view path) {
  auto cx = context(caller, transaction, path);
  if (!cx) return cx.error();
  auto node = readable(*cx, cx->path);
  if (!node) return node.error();
  return (*node)->value;
}

Result<void> Store::write(const Caller& caller, TransactionId transaction, std::string_view path,
                          std::string_view value) {
  auto cx = context(caller, transaction, path);
  if (!cx) return cx.error();
  if (!caller.privileged() && value.size() > quotas_.value_bytes) return Errno::kENOSPC;
  const std::string& absolute = cx->path;
  if (const Node* node = lookup(*cx, absolute)) {
    if (!permits(node->permissions, caller.domid, Access::kWrite, cx->target)) {
      return Errno::kEACCES;
    }
  } else if (auto created = create(*cx, absolute); !created) {
    return created.error();
  }
  Node& node = touch(*cx, absolute);
  node.value = value;
  record(*cx, Change{absolute, node.permissions, false});
  return {};
}

Result<void> Store::mkdir(const Caller& caller, TransactionId transaction, std::string_view path) {
  auto cx = context(caller, transaction, path);
  if (!cx) return cx.error();
  const std::string& absolute = cx->path;
  if (const Node* node = lookup(*cx, absolute)) {
    if (!permits(node->permissions, caller.domid, Access::kWrite, cx->target)) {
      return Errno::kEACCES;
    }
    return {};  // already there: nothing changes
  }
  if (auto created = create(*cx, absolute); !created) return created.error();
  record(*cx, Change{absolute, cx->tree->find(absolute)->permissions, false});
  return {};
}

Result<void> Store::rm(const Caller& caller, TransactionId transaction, std::string_view path) {
  auto cx = context(caller, transaction, path);
  if (!cx) return cx.error();
  const std::string& absolute = cx->path;
  if (absolute == "/") return Errno::kEINVAL;
  std::string parent(parent_path(absolute));
  const Node* node = lookup(*cx, absolute);
  if (!node) {
    auto parent_node = readable(*cx, parent);
    if (!parent_node) return parent_node.error();
    return {};  // nothing to remove
  }
  if (!permits(node->permissions, caller.domid, Access::kWrite, cx->target)) {
    return Errno::kEACCES;
  }
  Change change{absolute, node->permissions, true};
  for (const std::string& gone : cx->tree->subtree(absolute)) {
    lookup(*cx, gone);  // a transaction conflicts with any change below
    if (cx->transaction) cx->transaction->modified.insert(gone);
    cx->tree->erase(gone);
  }
  touch(*cx, parent).children.erase(std::string(leaf_name(absolute)));
  record(*cx, std::move(change));
  return {};
}

Result<std::vector<std::string>> Store::directory(const Caller& caller, TransactionId transaction,
                                                  std::string_view path) {
  auto cx = context(caller, transaction, path);
  if (!cx) return cx.error();
  auto node = readable(*cx, cx->path);
  if (!node) return node.error();
  const auto& children = (*node)->children;
  return std::vector<std::string>(children.begin(), children.end());
}

Result<Permissions> Store::get_perms(const Caller& caller, TransactionId transaction,
                                     std::string_view path) {
  auto cx = context(caller, transaction, path, Paths::kNodesAndSpecial);
  if (!cx) return cx.error();
  if (is_special_path(cx->path)) {
    auto it = special_permissions_.find(cx->path);
    if (it == special_permissions_.end()) return Errno::kENOENT;
    return it->second;
  }
  auto node = readable(*cx, cx->path);
  if (!node) return node.error();
  return (*node)->permissions;
}

Result<void> Store::set_perms(const Caller& caller, TransactionId transaction,
                              std::string_view path, Permissions permissions) {
  auto cx = context(caller, transaction, path, Paths::kNodesAndSpecial);
  if (!cx) return cx.error();
  if (permissions.empty()) return Errno::kEINVAL;
  const std::string& absolute = cx->path;
  if (is_special_path(absolute)) {
    auto it = special_permissions_.find(absolute);
    if (it == special_permissions_.end()) return Errno::kENOENT;
    if (!owns(it->second, caller.domid, cx->target)) return Errno::kEACCES;
    it->second = std::move(permissions);
    return {};
  }
  const Node* node = lookup(*cx, absolute);
  if (!node) return missing(*cx, absolute);
  if (!owns(node->permissions, caller.domid, cx->target)) return Errno::kEACCES;
  if (!caller.privileged() && permissions.front().domid != node->permissions.front().domid) {
    return Errno::kEPERM;  // only the control domain gives nodes away
  }
  touch(*cx, absolute);
  cx->tree->set_permissions(absolute, permissions);
  record(*cx, Change{absolute, std::move(permissions), false});
  return {};
}

// --- Transactions --------------------------------------------------------

size_t Store::transaction_count(ConnectionId connection) const {
  return static_cast<size_t>(
      std::count_if(transactions_.begin(), transactions_.end(),
                    [&](const auto& entry) { return entry.second.connection == connection; }));
}

Result<TransactionId> Store::transaction_start(const Caller& caller) {
  if (!caller.privileged() &&
      transaction_count(caller.connection) >= quotas_.transactions_per_connection) {
    return Errno::kENOSPC;
  }
  while (next_transaction_ == kNoTransaction || transactions_.contains(next_transaction_)) {
    ++next_transaction_;
  }
  TransactionId id = next_transaction_++;
  transactions_.emplace(id, Transaction{caller.connection, main_, {}, {}, {}});
  ++counters_.transactions_started;
  return id;
}

Result<void> Store::transaction_end(const Caller& caller, TransactionId transaction, bool commit) {
  auto it = transactions_.find(transaction);
  if (transaction == kNoTransaction || it == transactions_.end() ||
      it->second.connection != caller.connection) {
    return Errno::kENOENT;
  }
  Transaction done = std::move(it->second);
  transactions_.erase(it);
  if (!commit) {
    ++counters_.transactions_aborted;
    return {};
  }
  for (const auto& [path, generation] : done.observed) {
    const Node* now = main_.find(path);
    if ((now ? now->generation : 0) != generation) {
      ++counters_.transaction_conflicts;
      return Errno::kEAGAIN;
    }
  }
  // Nothing the transaction used has changed, so its versions of the
  // nodes it modified fit the main tree as it is now.
  for (const std::string& path : done.modified) {
    if (const Node* node = done.tree.find(path)) {
      Node committed = *node;
      committed.generation = next_generation();
      main_.put(path, std::move(committed));
    } else {
      main_.erase(path);
    }
  }
  ++counters_.transactions_committed;
  for (const Change& change : done.changes)
    fire(change);
  return {};
}

// --- Watches -------------------------------------------------------------

Result<void> Store::watch(const Caller& caller, std::string_view path, std::string_view token) {
  auto resolved = resolve_watch_path(caller.domid, path);
  if (!resolved) return resolved.error();
  if (!caller.privileged() && watches_.count(caller.connection) >= quotas_.watches_per_connection) {
    return Errno::kE2BIG;
  }
  WatchList::Watch watch{caller.connection, caller.domid, std::move(*resolved), std::string(token)};
  WatchEvent initial = WatchList::initial_event(watch);
  if (auto added = watches_.add(std::move(watch)); !added) return added.error();
  emit(std::move(initial));
  return {};
}

Result<void> Store::unwatch(const Caller& caller, std::string_view path, std::string_view token) {
  auto resolved = resolve_watch_path(caller.domid, path);
  if (!resolved) return resolved.error();
  return watches_.remove(caller.connection, resolved->absolute, token);
}

void Store::reset_connection(ConnectionId connection) {
  watches_.remove_connection(connection);
  std::erase_if(transactions_,
                [&](const auto& entry) { return entry.second.connection == connection; });
}

void Store::fire_special(std::string_view path) {
  auto it = special_permissions_.find(path);
  if (it == special_permissions_.end()) return;
  fire(Change{std::string(path), it->second, false});
}

void Store::set_target(domid_t domid, domid_t target) {
  targets_[domid] = target;
}

domid_t Store::target_of(domid_t domid) const {
  auto it = targets_.find(domid);
  return it == targets_.end() ? DOMID_INVALID : it->second;
}

void Store::fire(const Change& change) {
  auto visible = [this](domid_t domid, const Permissions& permissions) {
    return permits(permissions, domid, Access::kRead, target_of(domid));
  };
  for (WatchEvent& event : watches_.events_for(change, visible))
    emit(std::move(event));
}

void Store::emit(WatchEvent event) {
  ++counters_.watch_events;
  if (sink_) sink_(std::move(event));
}

}  // namespace xpv::backends::xenstore
