#include "backends/xenstore/protocol.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <variant>

namespace xpv::backends::xenstore {
namespace {

using ::testing::ElementsAre;

using namespace std::string_literals;

Message message(uint32_t type, std::string payload, uint32_t tx_id = 0) {
  Message m;
  m.header.type = type;
  m.header.req_id = 77;
  m.header.tx_id = tx_id;
  m.header.len = static_cast<uint32_t>(payload.size());
  m.payload = std::move(payload);
  return m;
}

// Parses a request that must be valid, as alternative T.
template <typename T>
T parsed(uint32_t type, std::string payload, uint32_t tx_id = 0) {
  auto request = parse_request(message(type, std::move(payload), tx_id));
  EXPECT_TRUE(request) << message_type_name(type);
  if (!request) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*request)) << message_type_name(type);
  if (!std::holds_alternative<T>(*request)) return T{};
  return std::get<T>(*request);
}

Errno refused(uint32_t type, std::string payload, uint32_t tx_id = 0) {
  auto request = parse_request(message(type, std::move(payload), tx_id));
  EXPECT_FALSE(request) << message_type_name(type);
  return request ? Errno::kEINVAL : request.error();
}

TEST(XenstoreErrors, EveryErrnoHasItsXsdErrorsName) {
  std::set<std::string_view> names;
  for (Errno error : kAllErrnos) {
    std::string_view name = errno_name(error);
    EXPECT_TRUE(name.starts_with("E")) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kErrnoCount);
  EXPECT_EQ(errno_name(Errno::kENOENT), "ENOENT");
  EXPECT_EQ(errno_name(Errno::kEACCES), "EACCES");
  EXPECT_EQ(errno_name(Errno::kEINVAL), "EINVAL");
  EXPECT_EQ(errno_name(Errno::kEAGAIN), "EAGAIN");
  EXPECT_EQ(errno_name(Errno::kE2BIG), "E2BIG");
  EXPECT_EQ(errno_name(Errno::kEEXIST), "EEXIST");
  EXPECT_EQ(errno_name(Errno::kENOSYS), "ENOSYS");
  EXPECT_EQ(errno_index(Errno::kEINVAL), 0u);
  EXPECT_EQ(errno_index(Errno::kEPERM), kErrnoCount - 1);
}

TEST(XenstoreWire, EncodesHeaderThenPayload) {
  Message m = message(XS_READ, "abc\0"s);
  m.header.len = 999;  // recomputed from the payload
  std::string bytes = encode(m);
  ASSERT_EQ(bytes.size(), kHeaderBytes + 4);
  xsd_sockmsg header = decode_header(bytes);
  EXPECT_EQ(header.type, static_cast<uint32_t>(XS_READ));
  EXPECT_EQ(header.req_id, 77u);
  EXPECT_EQ(header.tx_id, 0u);
  EXPECT_EQ(header.len, 4u);
  EXPECT_EQ(bytes.substr(kHeaderBytes), "abc\0"s);
  EXPECT_EQ(kHeaderBytes, 16u);
}

TEST(XenstoreWire, NamesMessageTypes) {
  EXPECT_EQ(message_type_name(XS_READ), "READ");
  EXPECT_EQ(message_type_name(XS_TRANSACTION_END), "TRANSACTION_END");
  EXPECT_EQ(message_type_name(XS_RESET_WATCHES), "RESET_WATCHES");
  EXPECT_EQ(message_type_name(20), "UNKNOWN");
  EXPECT_EQ(message_type_name(XS_INVALID), "UNKNOWN");
}

TEST(XenstoreRequests, PathRequestsTakeExactlyOneString) {
  EXPECT_EQ(parsed<requests::Read>(XS_READ, "memory/target\0"s).path, "memory/target");
  EXPECT_EQ(parsed<requests::Mkdir>(XS_MKDIR, "/a\0"s).path, "/a");
  EXPECT_EQ(parsed<requests::Rm>(XS_RM, "/a\0"s).path, "/a");
  EXPECT_EQ(parsed<requests::Directory>(XS_DIRECTORY, "device\0"s).path, "device");
  EXPECT_EQ(parsed<requests::GetPerms>(XS_GET_PERMS, "/a\0"s).path, "/a");
  for (uint32_t type : {XS_READ, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_GET_PERMS}) {
    EXPECT_EQ(refused(type, ""), Errno::kEINVAL);               // nothing
    EXPECT_EQ(refused(type, "/a"), Errno::kEINVAL);             // no NUL
    EXPECT_EQ(refused(type, "/a\0/b\0"s), Errno::kEINVAL);      // two strings
    EXPECT_EQ(refused(type, "/a\0trailing"s), Errno::kEINVAL);  // junk after
  }
}

TEST(XenstoreRequests, WriteTakesAPathAndBinaryValue) {
  auto write = parsed<requests::Write>(XS_WRITE, "control/feature-poweroff\0001"s);
  EXPECT_EQ(write.path, "control/feature-poweroff");
  EXPECT_EQ(write.value, "1");
  EXPECT_EQ(parsed<requests::Write>(XS_WRITE, "/a\0"s).value, "");
  EXPECT_EQ(parsed<requests::Write>(XS_WRITE, "/a\0x\0y\0"s).value, "x\0y\0"s);
  EXPECT_EQ(refused(XS_WRITE, "/a"), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_WRITE, ""), Errno::kEINVAL);
}

TEST(XenstoreRequests, SetPermsTakesAPathAndPermissions) {
  auto set = parsed<requests::SetPerms>(XS_SET_PERMS, "/a\0n1\0r0\0b5\0"s);
  EXPECT_EQ(set.path, "/a");
  EXPECT_THAT(set.permissions,
              ElementsAre(Permission{1, Access::kNone}, Permission{0, Access::kRead},
                          Permission{5, Access::kBoth}));
  EXPECT_EQ(refused(XS_SET_PERMS, "/a\0"s), Errno::kEINVAL);  // no permission
  EXPECT_EQ(refused(XS_SET_PERMS, "/a\0q1\0"s), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_SET_PERMS, "/a\0r70000\0"s), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_SET_PERMS, "/a\0r1"s), Errno::kEINVAL);
}

TEST(XenstoreRequests, WatchAndUnwatchTakeAPathAndToken) {
  auto watch = parsed<requests::Watch>(XS_WATCH, "cpu\0FFFF888003C1E000\0"s);
  EXPECT_EQ(watch.path, "cpu");
  EXPECT_EQ(watch.token, "FFFF888003C1E000");
  EXPECT_EQ(parsed<requests::Watch>(XS_WATCH, "cpu\0t\0reserved\0"s).token, "t");
  EXPECT_EQ(parsed<requests::Watch>(XS_WATCH, "cpu\0t\0"s, 5).path, "cpu");  // tx_id ignored
  EXPECT_EQ(parsed<requests::Unwatch>(XS_UNWATCH, "cpu\0t\0"s).token, "t");
  EXPECT_EQ(parsed<requests::Watch>(XS_WATCH, "cpu\0\0"s).token, "");
  EXPECT_EQ(refused(XS_WATCH, "cpu\0"s), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_UNWATCH, "cpu\0t"s), Errno::kEINVAL);
}

TEST(XenstoreRequests, Transactions) {
  parsed<requests::TransactionStart>(XS_TRANSACTION_START, "\0"s);
  parsed<requests::TransactionStart>(XS_TRANSACTION_START, "");
  EXPECT_EQ(refused(XS_TRANSACTION_START, "\0"s, 3), Errno::kEINVAL);  // tx_id must be 0
  EXPECT_EQ(refused(XS_TRANSACTION_START, "x\0"s), Errno::kEINVAL);
  EXPECT_TRUE(parsed<requests::TransactionEnd>(XS_TRANSACTION_END, "T\0"s, 3).commit);
  EXPECT_FALSE(parsed<requests::TransactionEnd>(XS_TRANSACTION_END, "F\0"s, 3).commit);
  EXPECT_EQ(refused(XS_TRANSACTION_END, "X\0"s, 3), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_TRANSACTION_END, "T"s, 3), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_TRANSACTION_END, "TRUE\0"s, 3), Errno::kEINVAL);
}

TEST(XenstoreRequests, DomainManagement) {
  auto introduce = parsed<requests::Introduce>(XS_INTRODUCE, "5\0001234\0003\0"s);
  EXPECT_EQ(introduce.domid, 5);
  EXPECT_EQ(introduce.gfn, 1234u);
  EXPECT_EQ(introduce.port, 3u);
  EXPECT_EQ(refused(XS_INTRODUCE, "5\0-1\0003\0"s), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_INTRODUCE, "5\0001\0"s), Errno::kEINVAL);
  EXPECT_EQ(parsed<requests::Release>(XS_RELEASE, "5\0"s).domid, 5);
  EXPECT_EQ(parsed<requests::GetDomainPath>(XS_GET_DOMAIN_PATH, "65535\0"s).domid, 65535);
  EXPECT_EQ(parsed<requests::IsDomainIntroduced>(XS_IS_DOMAIN_INTRODUCED, "1\0"s).domid, 1);
  EXPECT_EQ(parsed<requests::Resume>(XS_RESUME, "1\0"s).domid, 1);
  auto target = parsed<requests::SetTarget>(XS_SET_TARGET, "2\0003\0"s);
  EXPECT_EQ(target.domid, 2);
  EXPECT_EQ(target.target, 3);
  for (std::string bad : {"\0"s, "x\0"s, "-1\0"s, "65536\0"s, "1 \0"s, "1"s}) {
    EXPECT_EQ(refused(XS_GET_DOMAIN_PATH, bad), Errno::kEINVAL);
  }
  parsed<requests::ResetWatches>(XS_RESET_WATCHES, "");
}

TEST(XenstoreRequests, UnsupportedAndServerOnlyTypesAreRefused) {
  EXPECT_EQ(refused(XS_CONTROL, "print\0x\0"s), Errno::kENOSYS);
  EXPECT_EQ(refused(XS_DIRECTORY_PART, "/\0000\0"s), Errno::kENOSYS);
  EXPECT_EQ(refused(20, ""), Errno::kENOSYS);  // XS_RESTRICT, removed
  EXPECT_EQ(refused(XS_TYPE_COUNT, ""), Errno::kENOSYS);
  EXPECT_EQ(refused(XS_INVALID, ""), Errno::kENOSYS);
  EXPECT_EQ(refused(0xdeadbeef, ""), Errno::kENOSYS);
  EXPECT_EQ(refused(XS_WATCH_EVENT, "a\0b\0"s), Errno::kEINVAL);
  EXPECT_EQ(refused(XS_ERROR, "EINVAL\0"s), Errno::kEINVAL);
}

TEST(XenstoreReplies, EchoTheRequestHeader) {
  Message request = message(XS_WRITE, "/a\0b"s, 9);
  Message ok = reply_ok(request.header);
  EXPECT_EQ(ok.header.type, static_cast<uint32_t>(XS_WRITE));
  EXPECT_EQ(ok.header.req_id, 77u);
  EXPECT_EQ(ok.header.tx_id, 9u);
  EXPECT_EQ(ok.payload, "OK\0"s);
  EXPECT_EQ(ok.header.len, 3u);

  Message value = reply(request.header, "x");
  EXPECT_EQ(value.payload, "x");
  EXPECT_EQ(value.header.len, 1u);
}

TEST(XenstoreReplies, ErrorsCarryTheErrnoName) {
  Message request = message(XS_READ, "/a\0"s, 4);
  Message error = reply_error(request.header, Errno::kENOENT);
  EXPECT_EQ(error.header.type, static_cast<uint32_t>(XS_ERROR));
  EXPECT_EQ(error.header.req_id, 77u);
  EXPECT_EQ(error.header.tx_id, 4u);
  EXPECT_EQ(error.payload, "ENOENT\0"s);
  EXPECT_EQ(error.header.len, 7u);
}

TEST(XenstoreReplies, WatchEventsCarryPathAndToken) {
  Message event = watch_event_message("control/shutdown", "tok");
  EXPECT_EQ(event.header.type, static_cast<uint32_t>(XS_WATCH_EVENT));
  EXPECT_EQ(event.header.req_id, 0u);
  EXPECT_EQ(event.header.tx_id, 0u);
  EXPECT_EQ(event.payload, "control/shutdown\0tok\0"s);
  EXPECT_EQ(event.header.len, event.payload.size());
  EXPECT_EQ(nul_terminated({"a", "bc"}), "a\0bc\0"s);
  EXPECT_EQ(nul_terminated({}), "");
}

}  // namespace
}  // namespace xpv::backends::xenstore
