// Node permissions (docs/misc/xenstore.txt; GET_PERMS/SET_PERMS). A node
// has one or more entries; the first names the owner, who may always read
// and write, and its access applies to every domain without an entry of
// its own. The control domain (0) may do anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backends/xenstore/error.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::xenstore {

enum class Access : uint8_t { kNone = 0, kRead = 1, kWrite = 2, kBoth = 3 };

struct Permission {
  domid_t domid = 0;
  Access access = Access::kNone;
  bool operator==(const Permission&) const = default;
};

using Permissions = std::vector<Permission>;

// The wire form: "n5" (none), "r5", "w5", "b5" (both).
std::string format_permission(const Permission& permission);
// EINVAL unless one of n/r/w/b is followed by a decimal domid 0..65535.
Result<Permission> parse_permission(std::string_view text);

inline constexpr domid_t kControlDomain = 0;

// Whether `domid` may access a node with `permissions` as `wanted` (kRead
// or kWrite). `target` is the domain `domid` acts for after SET_TARGET
// (DOMID_INVALID if none): it gets that domain's rights too.
bool permits(const Permissions& permissions, domid_t domid, Access wanted,
             domid_t target = DOMID_INVALID);
// Whether `domid` owns the node: it may change its permissions.
bool owns(const Permissions& permissions, domid_t domid, domid_t target = DOMID_INVALID);

}  // namespace xpv::backends::xenstore
