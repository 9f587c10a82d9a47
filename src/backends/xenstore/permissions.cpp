#include "backends/xenstore/permissions.hpp"

#include <charconv>

namespace xpv::backends::xenstore {

namespace {

bool includes(Access granted, Access wanted) {
  return (static_cast<uint8_t>(granted) & static_cast<uint8_t>(wanted)) ==
         static_cast<uint8_t>(wanted);
}

}  // namespace

std::string format_permission(const Permission& permission) {
  constexpr char kLetters[] = {'n', 'r', 'w', 'b'};
  return kLetters[static_cast<uint8_t>(permission.access)] + std::to_string(permission.domid);
}

Result<Permission> parse_permission(std::string_view text) {
  if (text.size() < 2) return Errno::kEINVAL;
  Permission permission;
  switch (text.front()) {
    case 'n':
      permission.access = Access::kNone;
      break;
    case 'r':
      permission.access = Access::kRead;
      break;
    case 'w':
      permission.access = Access::kWrite;
      break;
    case 'b':
      permission.access = Access::kBoth;
      break;
    default:
      return Errno::kEINVAL;
  }
  const char* first = text.data() + 1;
  const char* last = text.data() + text.size();
  if (*first < '0' || *first > '9') return Errno::kEINVAL;  // from_chars would take "-1"
  uint32_t domid = 0;
  auto [end, ec] = std::from_chars(first, last, domid);
  if (ec != std::errc() || end != last || domid > UINT16_MAX) return Errno::kEINVAL;
  permission.domid = static_cast<domid_t>(domid);
  return permission;
}

bool owns(const Permissions& permissions, domid_t domid, domid_t target) {
  if (domid == kControlDomain) return true;
  if (permissions.empty()) return false;
  domid_t owner = permissions.front().domid;
  return owner == domid || (target != DOMID_INVALID && owner == target);
}

bool permits(const Permissions& permissions, domid_t domid, Access wanted, domid_t target) {
  if (owns(permissions, domid, target)) return true;
  if (permissions.empty()) return false;
  for (size_t i = 1; i < permissions.size(); ++i) {
    if (permissions[i].domid == domid) return includes(permissions[i].access, wanted);
  }
  if (target != DOMID_INVALID) {
    for (size_t i = 1; i < permissions.size(); ++i) {
      if (permissions[i].domid == target) return includes(permissions[i].access, wanted);
    }
  }
  return includes(permissions.front().access, wanted);
}

}  // namespace xpv::backends::xenstore
