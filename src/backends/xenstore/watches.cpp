#include "backends/xenstore/watches.hpp"

#include <algorithm>
#include <optional>

namespace xpv::backends::xenstore {

namespace {

// The path a watch reports for `change`, if the change concerns it.
std::optional<std::string_view> matched_path(const WatchList::Watch& watch, const Change& change) {
  const std::string& watched = watch.path.absolute;
  if (is_child_path(change.path, watched)) return std::string_view(change.path);
  // Removing an ancestor of the watched path removes the watched path too;
  // the event names the watched path, so it is still a child of it.
  if (change.removal && is_child_path(watched, change.path)) return std::string_view(watched);
  return std::nullopt;
}

std::string reported_path(const WatchList::Watch& watch, std::string_view path) {
  if (watch.path.relative) return relative_to_home(watch.domid, path);
  return std::string(path);
}

}  // namespace

Result<void> WatchList::add(Watch watch) {
  bool duplicate = std::any_of(watches_.begin(), watches_.end(), [&](const Watch& w) {
    return w.connection == watch.connection && w.path.absolute == watch.path.absolute &&
           w.token == watch.token;
  });
  if (duplicate) return Errno::kEEXIST;
  watches_.push_back(std::move(watch));
  return {};
}

Result<void> WatchList::remove(ConnectionId connection, std::string_view absolute_path,
                               std::string_view token) {
  auto it = std::find_if(watches_.begin(), watches_.end(), [&](const Watch& w) {
    return w.connection == connection && w.path.absolute == absolute_path && w.token == token;
  });
  if (it == watches_.end()) return Errno::kENOENT;
  watches_.erase(it);
  return {};
}

void WatchList::remove_connection(ConnectionId connection) {
  std::erase_if(watches_, [&](const Watch& w) { return w.connection == connection; });
}

size_t WatchList::count(ConnectionId connection) const {
  return static_cast<size_t>(std::count_if(watches_.begin(), watches_.end(), [&](const Watch& w) {
    return w.connection == connection;
  }));
}

WatchEvent WatchList::initial_event(const Watch& watch) {
  std::string path = watch.path.relative ? relative_to_home(watch.domid, watch.path.absolute)
                                         : watch.path.absolute;
  return WatchEvent{watch.connection, std::move(path), watch.token};
}

bool WatchList::watched_by(domid_t domid, std::string_view absolute_path) const {
  return std::any_of(watches_.begin(), watches_.end(), [&](const Watch& w) {
    return w.domid == domid && is_child_path(absolute_path, w.path.absolute);
  });
}

std::vector<WatchEvent> WatchList::events_for(const Change& change,
                                              const Visibility& visible) const {
  std::vector<WatchEvent> events;
  for (const Watch& watch : watches_) {
    std::optional<std::string_view> path = matched_path(watch, change);
    if (!path || !visible(watch.domid, change.permissions)) continue;
    events.push_back(WatchEvent{watch.connection, reported_path(watch, *path), watch.token});
  }
  return events;
}

}  // namespace xpv::backends::xenstore
