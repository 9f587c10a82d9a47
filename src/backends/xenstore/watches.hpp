// Watches (docs/misc/xenstore.txt, "Watches"): a change to a path fires
// every watch on that path or above it; removing a node also fires the
// watches below it, reporting the watched path. Watches on relative paths
// report relative paths.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/xenstore/error.hpp"
#include "backends/xenstore/path.hpp"
#include "backends/xenstore/permissions.hpp"

namespace xpv::backends::xenstore {

// One client of the store: a guest's ring, or a host-side user. Watches and
// transactions belong to a connection; permissions to its domain.
using ConnectionId = uint32_t;

// A change the store made, as watches see it.
struct Change {
  std::string path;         // absolute, or a special '@' path
  Permissions permissions;  // the node's (before a removal): who may see the change
  bool removal = false;     // the subtree at `path` went away
};

// A WATCH_EVENT to deliver.
struct WatchEvent {
  ConnectionId connection = 0;
  std::string path;
  std::string token;
  bool operator==(const WatchEvent&) const = default;
};

class WatchList {
 public:
  struct Watch {
    ConnectionId connection = 0;
    domid_t domid = 0;
    ResolvedPath path;
    std::string token;
  };
  // Decides whether a watcher in `domid` may learn of a change to a node
  // with `permissions`.
  using Visibility = std::function<bool(domid_t domid, const Permissions& permissions)>;

  // EEXIST if the connection already watches this path with this token.
  Result<void> add(Watch watch);
  // ENOENT if there is no such watch.
  Result<void> remove(ConnectionId connection, std::string_view absolute_path,
                      std::string_view token);
  void remove_connection(ConnectionId connection);
  size_t count(ConnectionId connection) const;
  size_t size() const { return watches_.size(); }
  // Whether a watch set by `domid` fires for a change to `absolute_path`.
  bool watched_by(domid_t domid, std::string_view absolute_path) const;

  // The event a watch raises when it is set up: its own path, as given.
  static WatchEvent initial_event(const Watch& watch);
  // The events `change` raises, in registration order.
  std::vector<WatchEvent> events_for(const Change& change, const Visibility& visible) const;

 private:
  std::vector<Watch> watches_;
};

}  // namespace xpv::backends::xenstore
