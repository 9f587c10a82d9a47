#include "backends/xenstore/protocol.hpp"

#include <charconv>
#include <cstring>
#include <optional>

namespace xpv::backends::xenstore {

namespace {

using Strings = std::vector<std::string_view>;

// The payload as NUL-terminated strings; nullopt unless it is empty or
// ends with a NUL.
std::optional<Strings> split_strings(std::string_view payload) {
  if (!payload.empty() && payload.back() != '\0') return std::nullopt;
  Strings strings;
  while (!payload.empty()) {
    size_t nul = payload.find('\0');
    strings.push_back(payload.substr(0, nul));
    payload.remove_prefix(nul + 1);
  }
  return strings;
}

template <typename Integer>
std::optional<Integer> parse_decimal(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  Integer value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<domid_t> parse_domid(std::string_view text) {
  return parse_decimal<domid_t>(text);
}

// A request whose payload is exactly one string.
std::optional<std::string> single_string(std::string_view payload) {
  auto strings = split_strings(payload);
  if (!strings || strings->size() != 1) return std::nullopt;
  return std::string(strings->front());
}

// A request whose payload is exactly one domid.
std::optional<domid_t> single_domid(std::string_view payload) {
  auto text = single_string(payload);
  if (!text) return std::nullopt;
  return parse_domid(*text);
}

// Fills Request alternative T from a single path.
template <typename T>
Result<Request> path_request(std::string_view payload) {
  auto path = single_string(payload);
  if (!path) return Errno::kEINVAL;
  return Request(T{std::move(*path)});
}

// Fills Request alternative T from a single domid.
template <typename T>
Result<Request> domid_request(std::string_view payload) {
  auto domid = single_domid(payload);
  if (!domid) return Errno::kEINVAL;
  return Request(T{*domid});
}

Result<Request> parse_write(std::string_view payload) {
  size_t nul = payload.find('\0');
  if (nul == std::string_view::npos) return Errno::kEINVAL;
  return Request(
      requests::Write{std::string(payload.substr(0, nul)), std::string(payload.substr(nul + 1))});
}

Result<Request> parse_set_perms(std::string_view payload) {
  auto strings = split_strings(payload);
  if (!strings || strings->size() < 2) return Errno::kEINVAL;
  requests::SetPerms request{std::string(strings->front()), {}};
  for (size_t i = 1; i < strings->size(); ++i) {
    auto permission = parse_permission((*strings)[i]);
    if (!permission) return permission.error();
    request.permissions.push_back(*permission);
  }
  return Request(std::move(request));
}

// WATCH and UNWATCH: <path>|<token>| and reserved strings after them.
template <typename T>
Result<Request> watch_request(std::string_view payload) {
  auto strings = split_strings(payload);
  if (!strings || strings->size() < 2) return Errno::kEINVAL;
  return Request(T{std::string((*strings)[0]), std::string((*strings)[1])});
}

Result<Request> parse_transaction_start(const Message& message) {
  if (message.header.tx_id != 0) return Errno::kEINVAL;
  if (!message.payload.empty() && message.payload != std::string_view("\0", 1)) {
    return Errno::kEINVAL;
  }
  return Request(requests::TransactionStart{});
}

Result<Request> parse_transaction_end(std::string_view payload) {
  auto flag = single_string(payload);
  if (!flag || (*flag != "T" && *flag != "F")) return Errno::kEINVAL;
  return Request(requests::TransactionEnd{*flag == "T"});
}

// <domid>|<gfn>|<evtchn>|?  The gfn is signed decimal (xenstore.txt).
Result<Request> parse_introduce(std::string_view payload) {
  auto strings = split_strings(payload);
  if (!strings || strings->size() < 3) return Errno::kEINVAL;
  auto domid = parse_domid((*strings)[0]);
  std::string_view gfn_text = (*strings)[1];
  if (gfn_text.starts_with('-')) return Errno::kEINVAL;
  auto gfn = parse_decimal<uint64_t>(gfn_text);
  auto port = parse_decimal<evtchn_port_t>((*strings)[2]);
  if (!domid || !gfn || !port) return Errno::kEINVAL;
  return Request(requests::Introduce{*domid, *gfn, *port});
}

Result<Request> parse_set_target(std::string_view payload) {
  auto strings = split_strings(payload);
  if (!strings || strings->size() != 2) return Errno::kEINVAL;
  auto domid = parse_domid((*strings)[0]);
  auto target = parse_domid((*strings)[1]);
  if (!domid || !target) return Errno::kEINVAL;
  return Request(requests::SetTarget{*domid, *target});
}

}  // namespace

std::string encode(const Message& message) {
  xsd_sockmsg header = message.header;
  header.len = static_cast<uint32_t>(message.payload.size());
  std::string bytes(kHeaderBytes, '\0');
  std::memcpy(bytes.data(), &header, kHeaderBytes);
  bytes += message.payload;
  return bytes;
}

xsd_sockmsg decode_header(std::string_view bytes) {
  xsd_sockmsg header;
  std::memcpy(&header, bytes.data(), kHeaderBytes);
  return header;
}

std::string_view message_type_name(uint32_t type) {
  switch (type) {
    case XS_CONTROL:
      return "CONTROL";
    case XS_DIRECTORY:
      return "DIRECTORY";
    case XS_READ:
      return "READ";
    case XS_GET_PERMS:
      return "GET_PERMS";
    case XS_WATCH:
      return "WATCH";
    case XS_UNWATCH:
      return "UNWATCH";
    case XS_TRANSACTION_START:
      return "TRANSACTION_START";
    case XS_TRANSACTION_END:
      return "TRANSACTION_END";
    case XS_INTRODUCE:
      return "INTRODUCE";
    case XS_RELEASE:
      return "RELEASE";
    case XS_GET_DOMAIN_PATH:
      return "GET_DOMAIN_PATH";
    case XS_WRITE:
      return "WRITE";
    case XS_MKDIR:
      return "MKDIR";
    case XS_RM:
      return "RM";
    case XS_SET_PERMS:
      return "SET_PERMS";
    case XS_WATCH_EVENT:
      return "WATCH_EVENT";
    case XS_ERROR:
      return "ERROR";
    case XS_IS_DOMAIN_INTRODUCED:
      return "IS_DOMAIN_INTRODUCED";
    case XS_RESUME:
      return "RESUME";
    case XS_SET_TARGET:
      return "SET_TARGET";
    case XS_RESET_WATCHES:
      return "RESET_WATCHES";
    case XS_DIRECTORY_PART:
      return "DIRECTORY_PART";
    default:
      return "UNKNOWN";
  }
}

Result<Request> parse_request(const Message& message) {
  std::string_view payload = message.payload;
  switch (message.header.type) {
    case XS_READ:
      return path_request<requests::Read>(payload);
    case XS_WRITE:
      return parse_write(payload);
    case XS_MKDIR:
      return path_request<requests::Mkdir>(payload);
    case XS_RM:
      return path_request<requests::Rm>(payload);
    case XS_DIRECTORY:
      return path_request<requests::Directory>(payload);
    case XS_GET_PERMS:
      return path_request<requests::GetPerms>(payload);
    case XS_SET_PERMS:
      return parse_set_perms(payload);
    case XS_WATCH:
      return watch_request<requests::Watch>(payload);
    case XS_UNWATCH:
      return watch_request<requests::Unwatch>(payload);
    case XS_TRANSACTION_START:
      return parse_transaction_start(message);
    case XS_TRANSACTION_END:
      return parse_transaction_end(payload);
    case XS_INTRODUCE:
      return parse_introduce(payload);
    case XS_RELEASE:
      return domid_request<requests::Release>(payload);
    case XS_GET_DOMAIN_PATH:
      return domid_request<requests::GetDomainPath>(payload);
    case XS_IS_DOMAIN_INTRODUCED:
      return domid_request<requests::IsDomainIntroduced>(payload);
    case XS_RESUME:
      return domid_request<requests::Resume>(payload);
    case XS_SET_TARGET:
      return parse_set_target(payload);
    case XS_RESET_WATCHES:
      return Request(requests::ResetWatches{});
    case XS_WATCH_EVENT:
    case XS_ERROR:
      return Errno::kEINVAL;  // only the server sends these
    default:
      return Errno::kENOSYS;
  }
}

Message reply(const xsd_sockmsg& request, std::string payload) {
  Message message{request, std::move(payload)};
  message.header.len = static_cast<uint32_t>(message.payload.size());
  return message;
}

Message reply_ok(const xsd_sockmsg& request) {
  return reply(request, std::string("OK", 3));
}

Message reply_error(const xsd_sockmsg& request, Errno error) {
  Message message = reply(request, std::string(errno_name(error)) + '\0');
  message.header.type = XS_ERROR;
  return message;
}

Message watch_event_message(std::string_view path, std::string_view token) {
  Message message;
  message.header.type = XS_WATCH_EVENT;
  message.payload = std::string(path) + '\0' + std::string(token) + '\0';
  message.header.len = static_cast<uint32_t>(message.payload.size());
  return message;
}

std::string nul_terminated(const std::vector<std::string>& strings) {
  std::string payload;
  for (const std::string& s : strings) {
    payload += s;
    payload += '\0';
  }
  return payload;
}

}  // namespace xpv::backends::xenstore
