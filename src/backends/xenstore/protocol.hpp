// The xenstore wire protocol (xen/io/xs_wire.h, docs/misc/xenstore.txt):
// a struct xsd_sockmsg header and `len` payload bytes, mostly
// NUL-terminated strings. Parses requests into typed structs and builds
// replies, errors and watch events. Knows nothing of the store or rings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backends/xenstore/error.hpp"
#include "backends/xenstore/permissions.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::xenstore {

inline constexpr size_t kHeaderBytes = sizeof(xsd_sockmsg);
inline constexpr size_t kPayloadMax = XENSTORE_PAYLOAD_MAX;

struct Message {
  xsd_sockmsg header{};  // header.len is payload.size() once encoded
  std::string payload;   // bytes, not necessarily text
};

// Header and payload as they go on the wire; header.len is set from the
// payload.
std::string encode(const Message& message);
xsd_sockmsg decode_header(std::string_view bytes);  // bytes.size() >= kHeaderBytes

// "READ", "WATCH_EVENT", ... ; "UNKNOWN" for anything else.
std::string_view message_type_name(uint32_t type);

// The requests a client may send, one struct per XS_* type.
namespace requests {
struct Read {
  std::string path;
};
struct Write {
  std::string path;
  std::string value;
};
struct Mkdir {
  std::string path;
};
struct Rm {
  std::string path;
};
struct Directory {
  std::string path;
};
struct GetPerms {
  std::string path;
};
struct SetPerms {
  std::string path;
  Permissions permissions;
};
struct Watch {
  std::string path;
  std::string token;
};
struct Unwatch {
  std::string path;
  std::string token;
};
struct TransactionStart {};
struct TransactionEnd {
  bool commit = false;
};
struct Introduce {
  domid_t domid = 0;
  uint64_t gfn = 0;
  evtchn_port_t port = 0;
};
struct Release {
  domid_t domid = 0;
};
struct GetDomainPath {
  domid_t domid = 0;
};
struct IsDomainIntroduced {
  domid_t domid = 0;
};
struct Resume {
  domid_t domid = 0;
};
struct SetTarget {
  domid_t domid = 0;
  domid_t target = 0;
};
struct ResetWatches {};
}  // namespace requests

using Request = std::variant<requests::Read, requests::Write, requests::Mkdir, requests::Rm,
                             requests::Directory, requests::GetPerms, requests::SetPerms,
                             requests::Watch, requests::Unwatch, requests::TransactionStart,
                             requests::TransactionEnd, requests::Introduce, requests::Release,
                             requests::GetDomainPath, requests::IsDomainIntroduced,
                             requests::Resume, requests::SetTarget, requests::ResetWatches>;

// ENOSYS for types this server does not implement (CONTROL, DIRECTORY_PART,
// anything unknown); EINVAL for server-only types (WATCH_EVENT, ERROR), a
// non-zero tx_id on TRANSACTION_START and malformed payloads.
Result<Request> parse_request(const Message& message);

// A reply of the request's type, req_id and tx_id.
Message reply(const xsd_sockmsg& request, std::string payload);
Message reply_ok(const xsd_sockmsg& request);  // "OK"
// XS_ERROR carrying the errno's name; req_id and tx_id from the request.
Message reply_error(const xsd_sockmsg& request, Errno error);
// XS_WATCH_EVENT "<path>|<token>|", req_id and tx_id 0.
Message watch_event_message(std::string_view path, std::string_view token);

// Each string followed by a NUL: DIRECTORY and GET_PERMS replies.
std::string nul_terminated(const std::vector<std::string>& strings);

}  // namespace xpv::backends::xenstore
