// Xenstore paths (docs/misc/xenstore.txt): absolute paths start with '/',
// relative ones resolve under a domain's home /local/domain/<domid>, and
// '@'-prefixed names are the special watch paths. Everything here is a pure
// function of its arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backends/xenstore/error.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::xenstore {

inline constexpr std::string_view kIntroduceDomain = "@introduceDomain";
inline constexpr std::string_view kReleaseDomain = "@releaseDomain";

// "/local/domain/<domid>", where a domain's relative paths resolve.
std::string home_path(domid_t domid);

// A path as it arrived, resolved for the domain that sent it.
struct ResolvedPath {
  std::string absolute;
  bool relative = false;  // watch events on it are reported relative too
};

// Resolves `path` for `domid`. EINVAL for an empty path, a character other
// than alphanumerics and "-/_@", doubled or trailing slashes, a relative path
// longer than XENSTORE_REL_PATH_MAX or a result longer than
// XENSTORE_ABS_PATH_MAX, and for special ('@') paths, which name no node.
Result<ResolvedPath> resolve_path(domid_t domid, std::string_view path);

// Like resolve_path, but also accepts @introduceDomain and @releaseDomain
// (and, for watches, any '@' name): the paths WATCH, GET_PERMS and
// SET_PERMS take.
Result<ResolvedPath> resolve_watch_path(domid_t domid, std::string_view path);

bool is_special_path(std::string_view path);

// Whether `child` is `parent` or lies below it, in xenstore.txt's sense
// (every path is a child of itself; everything absolute is a child of "/").
bool is_child_path(std::string_view child, std::string_view parent);

// "/a/b" -> "/a"; "/a" -> "/". Only for absolute paths other than "/".
std::string_view parent_path(std::string_view path);
// "/a/b" -> "b".
std::string_view leaf_name(std::string_view path);
// "/" + "a" -> "/a"; "/a" + "b" -> "/a/b".
std::string child_path(std::string_view parent, std::string_view leaf);

// `path` as a watch on a relative path reports it: below `domid`'s home,
// with the home prefix removed.
std::string relative_to_home(domid_t domid, std::string_view path);

}  // namespace xpv::backends::xenstore
