#include "backends/xenstore/path.hpp"

#include <algorithm>

namespace xpv::backends::xenstore {

namespace {

bool valid_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '/' || c == '_' || c == '@';
}

// Characters, doubled and trailing slashes; the leading character is the
// caller's business.
bool well_formed(std::string_view path) {
  if (!std::all_of(path.begin(), path.end(), valid_character)) return false;
  if (path.find("//") != std::string_view::npos) return false;
  return path == "/" || path.back() != '/';
}

}  // namespace

std::string home_path(domid_t domid) {
  return "/local/domain/" + std::to_string(domid);
}

bool is_special_path(std::string_view path) {
  return !path.empty() && path.front() == '@';
}

Result<ResolvedPath> resolve_path(domid_t domid, std::string_view path) {
  if (path.empty() || is_special_path(path) || !well_formed(path)) return Errno::kEINVAL;
  if (path.front() == '/') {
    if (path.size() > XENSTORE_ABS_PATH_MAX) return Errno::kEINVAL;
    return ResolvedPath{std::string(path), false};
  }
  if (path.size() > XENSTORE_REL_PATH_MAX) return Errno::kEINVAL;
  std::string absolute = home_path(domid) + "/" + std::string(path);
  if (absolute.size() > XENSTORE_ABS_PATH_MAX) return Errno::kEINVAL;
  return ResolvedPath{std::move(absolute), true};
}

Result<ResolvedPath> resolve_watch_path(domid_t domid, std::string_view path) {
  if (!is_special_path(path)) return resolve_path(domid, path);
  if (path.size() < 2 || path.size() > XENSTORE_ABS_PATH_MAX || !well_formed(path)) {
    return Errno::kEINVAL;
  }
  return ResolvedPath{std::string(path), false};
}

bool is_child_path(std::string_view child, std::string_view parent) {
  if (parent == "/") return !child.empty() && child.front() == '/';
  if (!child.starts_with(parent)) return false;
  return child.size() == parent.size() || child[parent.size()] == '/';
}

std::string_view parent_path(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return path.substr(0, slash);
}

std::string_view leaf_name(std::string_view path) {
  return path.substr(path.rfind('/') + 1);
}

std::string child_path(std::string_view parent, std::string_view leaf) {
  std::string path(parent);
  if (path != "/") path += '/';
  path += leaf;
  return path;
}

std::string relative_to_home(domid_t domid, std::string_view path) {
  std::string prefix = home_path(domid) + "/";
  if (path.starts_with(prefix)) path.remove_prefix(prefix.size());
  return std::string(path);
}

}  // namespace xpv::backends::xenstore
