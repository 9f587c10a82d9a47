#include "backends/xenstore/store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "backends/xenstore/domain_nodes.hpp"
#include "backends/xenstore/path.hpp"
#include "backends/xenstore/permissions.hpp"

namespace xpv::backends::xenstore {

inline void PrintTo(const WatchEvent& event, std::ostream* os) {
  *os << "{connection " << event.connection << ", \"" << event.path << "\", \"" << event.token
      << "\"}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr TransactionId kNoTx = kNoTransaction;
constexpr domid_t kGuest = 1;
constexpr domid_t kOther = 2;

// --- Paths -----------------------------------------------------------------

TEST(XenstorePath, ResolvesRelativePathsUnderTheDomainHome) {
  auto resolved = resolve_path(7, "memory/target");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->absolute, "/local/domain/7/memory/target");
  EXPECT_TRUE(resolved->relative);

  auto absolute = resolve_path(7, "/vm/x");
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->absolute, "/vm/x");
  EXPECT_FALSE(absolute->relative);
  EXPECT_EQ(home_path(7), "/local/domain/7");
}

TEST(XenstorePath, RejectsMalformedPaths) {
  for (std::string_view bad : {"", "//", "/a//b", "/a/", "a/", "a//b", "/a b", "/a.b", "/a\n",
                               "/\xc3\xa9", "@introduceDomain", "/a\\b"}) {
    auto resolved = resolve_path(1, bad);
    ASSERT_FALSE(resolved) << "accepted '" << bad << "'";
    EXPECT_EQ(resolved.error(), Errno::kEINVAL);
  }
  EXPECT_TRUE(resolve_path(1, "/"));
  EXPECT_TRUE(resolve_path(1, "/a-b_c@d/0"));
}

TEST(XenstorePath, EnforcesXenstoreLengthLimits) {
  std::string absolute = "/" + std::string(XENSTORE_ABS_PATH_MAX - 1, 'a');
  EXPECT_TRUE(resolve_path(1, absolute));
  EXPECT_FALSE(resolve_path(1, absolute + "a"));

  std::string relative(XENSTORE_REL_PATH_MAX, 'a');
  EXPECT_TRUE(resolve_path(1, relative));
  EXPECT_FALSE(resolve_path(1, relative + "a"));
}

TEST(XenstorePath, SpecialPathsAreOnlyForWatchesAndPermissions) {
  auto special = resolve_watch_path(1, "@releaseDomain");
  ASSERT_TRUE(special);
  EXPECT_EQ(special->absolute, "@releaseDomain");
  EXPECT_FALSE(special->relative);
  EXPECT_FALSE(resolve_watch_path(1, "@"));
  EXPECT_FALSE(resolve_path(1, "@releaseDomain"));
}

TEST(XenstorePath, ChildRelationFollowsXenstoreTxt) {
  EXPECT_TRUE(is_child_path("/a/b", "/a"));
  EXPECT_TRUE(is_child_path("/a", "/a"));
  EXPECT_TRUE(is_child_path("/a", "/"));
  EXPECT_FALSE(is_child_path("/ab", "/a"));
  EXPECT_FALSE(is_child_path("/a", "/a/b"));
  EXPECT_FALSE(is_child_path("@releaseDomain", "/"));
  EXPECT_EQ(parent_path("/a/b"), "/a");
  EXPECT_EQ(parent_path("/a"), "/");
  EXPECT_EQ(leaf_name("/a/b"), "b");
  EXPECT_EQ(child_path("/", "a"), "/a");
  EXPECT_EQ(relative_to_home(3, "/local/domain/3/x/y"), "x/y");
}

// --- Permissions -------------------------------------------------------------

TEST(XenstorePermissions, ParseAndFormatRoundTrip) {
  for (std::string_view text : {"n0", "r1", "w65535", "b7"}) {
    auto permission = parse_permission(text);
    ASSERT_TRUE(permission) << text;
    EXPECT_EQ(format_permission(*permission), text);
  }
  EXPECT_EQ(parse_permission("b7")->access, Access::kBoth);
  for (std::string_view bad : {"", "r", "x1", "r-1", "r+1", "r65536", "r1a", "R1", "r 1"}) {
    EXPECT_FALSE(parse_permission(bad)) << bad;
  }
}

TEST(XenstorePermissions, OwnerHasFullAccessAndOthersTheDefault) {
  Permissions perms{{5, Access::kNone}, {6, Access::kRead}, {7, Access::kWrite}};
  EXPECT_TRUE(permits(perms, 5, Access::kWrite));
  EXPECT_TRUE(permits(perms, 5, Access::kRead));
  EXPECT_TRUE(permits(perms, 6, Access::kRead));
  EXPECT_FALSE(permits(perms, 6, Access::kWrite));
  EXPECT_TRUE(permits(perms, 7, Access::kWrite));
  EXPECT_FALSE(permits(perms, 7, Access::kRead));
  EXPECT_FALSE(permits(perms, 8, Access::kRead));  // default: n
  EXPECT_TRUE(permits(perms, kControlDomain, Access::kWrite));

  Permissions open{{5, Access::kRead}, {6, Access::kNone}};
  EXPECT_TRUE(permits(open, 8, Access::kRead));
  EXPECT_FALSE(permits(open, 6, Access::kRead));  // its own entry wins
  EXPECT_TRUE(owns(open, 5));
  EXPECT_FALSE(owns(open, 6));
}

TEST(XenstorePermissions, TargetGetsItsTargetsRights) {
  Permissions perms{{5, Access::kNone}, {6, Access::kRead}};
  EXPECT_TRUE(permits(perms, 9, Access::kWrite, 5));  // 9 acts for the owner
  EXPECT_TRUE(permits(perms, 9, Access::kRead, 6));
  EXPECT_FALSE(permits(perms, 9, Access::kWrite, 6));
}

// --- The store -------------------------------------------------------------

class XenstoreStore : public ::testing::Test {
 protected:
  XenstoreStore() : XenstoreStore(Quotas{}) {}
  explicit XenstoreStore(Quotas quotas) : store(quotas) {
    store.set_event_sink([this](WatchEvent event) { events.push_back(std::move(event)); });
  }

  std::string read(const Caller& caller, std::string_view path, TransactionId tx = kNoTx) {
    auto value = store.read(caller, tx, path);
    return value ? *value : "<" + std::string(errno_name(value.error())) + ">";
  }
  Errno error_of(const Result<void>& result) {
    EXPECT_FALSE(result);
    return result ? Errno::kEINVAL : result.error();
  }
  void populate() { populate_domain(store, kGuest, "guest", 524288, 2); }
  std::vector<WatchEvent> take_events() { return std::exchange(events, {}); }

  Store store;
  std::vector<WatchEvent> events;
  const Caller host = Caller::host();
  const Caller guest = Caller::domain(kGuest);
  const Caller other = Caller::domain(kOther);
};

TEST_F(XenstoreStore, StartsWithJustTheRoot) {
  EXPECT_EQ(store.node_count(), 1u);
  EXPECT_EQ(read(host, "/"), "");
  EXPECT_EQ(read(host, "/missing"), "<ENOENT>");
  EXPECT_THAT(*store.get_perms(host, kNoTx, "/"), ElementsAre(Permission{0, Access::kNone}));
}

TEST_F(XenstoreStore, WriteCreatesMissingParentsWithEmptyValues) {
  ASSERT_TRUE(store.write(host, kNoTx, "/a/b/c", "value"));
  EXPECT_EQ(read(host, "/a/b/c"), "value");
  EXPECT_EQ(read(host, "/a/b"), "");
  EXPECT_EQ(read(host, "/a"), "");
  EXPECT_THAT(*store.directory(host, kNoTx, "/a"), ElementsAre("b"));
  ASSERT_TRUE(store.write(host, kNoTx, "/a/b/c", "new"));
  EXPECT_EQ(read(host, "/a/b/c"), "new");
  EXPECT_EQ(store.node_count(), 4u);
}

TEST_F(XenstoreStore, ValuesAreBinary) {
  std::string binary("x\0y\xff", 4);
  ASSERT_TRUE(store.write(host, kNoTx, "/bin", binary));
  EXPECT_EQ(read(host, "/bin"), binary);
  ASSERT_TRUE(store.write(host, kNoTx, "/empty", ""));
  EXPECT_EQ(read(host, "/empty"), "");
}

TEST_F(XenstoreStore, MkdirCreatesPathsAndKeepsExistingValues) {
  ASSERT_TRUE(store.write(host, kNoTx, "/a", "kept"));
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/a/b/c"));
  EXPECT_EQ(read(host, "/a"), "kept");
  EXPECT_EQ(read(host, "/a/b/c"), "");
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/a"));
  EXPECT_EQ(read(host, "/a"), "kept");
}

TEST_F(XenstoreStore, RmRemovesTheWholeSubtree) {
  ASSERT_TRUE(store.write(host, kNoTx, "/a/b/c", "1"));
  ASSERT_TRUE(store.write(host, kNoTx, "/a/b/d", "2"));
  ASSERT_TRUE(store.write(host, kNoTx, "/a/b-sibling", "3"));
  ASSERT_TRUE(store.rm(host, kNoTx, "/a/b"));
  EXPECT_EQ(read(host, "/a/b"), "<ENOENT>");
  EXPECT_EQ(read(host, "/a/b/c"), "<ENOENT>");
  EXPECT_EQ(read(host, "/a/b-sibling"), "3");
  EXPECT_THAT(*store.directory(host, kNoTx, "/a"), ElementsAre("b-sibling"));
  EXPECT_EQ(store.node_count(), 3u);
}

TEST_F(XenstoreStore, RmOfAMissingNodeIsFineOnlyIfItsParentExists) {
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/a"));
  EXPECT_TRUE(store.rm(host, kNoTx, "/a/missing"));
  EXPECT_EQ(error_of(store.rm(host, kNoTx, "/missing/child")), Errno::kENOENT);
  EXPECT_EQ(error_of(store.rm(host, kNoTx, "/")), Errno::kEINVAL);
}

TEST_F(XenstoreStore, DirectoryListsImmediateChildren) {
  ASSERT_TRUE(store.write(host, kNoTx, "/d/x/deep", ""));
  ASSERT_TRUE(store.write(host, kNoTx, "/d/y", ""));
  EXPECT_THAT(*store.directory(host, kNoTx, "/d"), ElementsAre("x", "y"));
  EXPECT_THAT(*store.directory(host, kNoTx, "/d/y"), IsEmpty());
  auto missing = store.directory(host, kNoTx, "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errno::kENOENT);
}

TEST_F(XenstoreStore, MalformedPathsAreEINVAL) {
  EXPECT_EQ(error_of(store.write(host, kNoTx, "/a//b", "")), Errno::kEINVAL);
  EXPECT_EQ(error_of(store.mkdir(host, kNoTx, "")), Errno::kEINVAL);
  EXPECT_EQ(error_of(store.rm(host, kNoTx, "/a/")), Errno::kEINVAL);
  EXPECT_EQ(read(host, "/a b"), "<EINVAL>");
}

TEST_F(XenstoreStore, NewNodesInheritTheirParentsPermissions) {
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/p"));
  ASSERT_TRUE(store.set_perms(host, kNoTx, "/p", {{0, Access::kRead}, {kGuest, Access::kBoth}}));
  ASSERT_TRUE(store.write(host, kNoTx, "/p/q/r", "x"));
  EXPECT_THAT(*store.get_perms(host, kNoTx, "/p/q/r"),
              ElementsAre(Permission{0, Access::kRead}, Permission{kGuest, Access::kBoth}));
}

TEST_F(XenstoreStore, UnprivilegedCreatorsOwnWhatTheyCreate) {
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/shared"));
  ASSERT_TRUE(
      store.set_perms(host, kNoTx, "/shared", {{0, Access::kNone}, {kGuest, Access::kWrite}}));
  ASSERT_TRUE(store.write(guest, kNoTx, "/shared/mine/leaf", "v"));
  EXPECT_THAT(*store.get_perms(host, kNoTx, "/shared/mine/leaf"),
              ElementsAre(Permission{kGuest, Access::kNone}, Permission{kGuest, Access::kWrite}));
  EXPECT_EQ(read(guest, "/shared/mine/leaf"), "v");
  EXPECT_EQ(store.nodes_owned_by(kGuest), 2u);
}

TEST_F(XenstoreStore, GetPermsAndSetPermsOnSpecialPaths) {
  EXPECT_THAT(*store.get_perms(host, kNoTx, "@releaseDomain"),
              ElementsAre(Permission{0, Access::kNone}));
  ASSERT_TRUE(store.set_perms(host, kNoTx, "@releaseDomain",
                              {{0, Access::kNone}, {kGuest, Access::kRead}}));
  EXPECT_EQ(store.get_perms(guest, kNoTx, "@releaseDomain")->size(), 2u);
  EXPECT_EQ(error_of(store.set_perms(guest, kNoTx, "@releaseDomain", {{kGuest, Access::kNone}})),
            Errno::kEACCES);
  EXPECT_FALSE(store.get_perms(host, kNoTx, "@unknown"));
  EXPECT_EQ(error_of(store.set_perms(host, kNoTx, "/x", {})), Errno::kEINVAL);
}

// --- Permission checks for a domU ------------------------------------------

TEST_F(XenstoreStore, GuestReadsItsHomeButCannotWriteIt) {
  populate();
  EXPECT_EQ(read(guest, "name"), "guest");
  EXPECT_EQ(read(guest, "/local/domain/1/memory/target"), "524288");
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "memory/target", "1")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "new-node", "1")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.mkdir(guest, kNoTx, "device/vbd")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.rm(guest, kNoTx, "memory")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.mkdir(guest, kNoTx, "memory")), Errno::kEACCES);
  EXPECT_EQ(read(guest, "memory/target"), "524288");
}

TEST_F(XenstoreStore, GuestWritesTheNodesItOwns) {
  populate();
  EXPECT_TRUE(store.write(guest, kNoTx, "control/feature-poweroff", "1"));
  EXPECT_TRUE(store.write(guest, kNoTx, "data/app/key", "v"));
  EXPECT_TRUE(store.rm(guest, kNoTx, "data/app"));
  EXPECT_TRUE(store.write(guest, kNoTx, "device/suspend/event-channel", "5"));
  EXPECT_EQ(read(host, "/local/domain/1/control/feature-poweroff"), "1");
}

TEST_F(XenstoreStore, GuestCannotReachOutsideWhatItIsAllowed) {
  populate();
  ASSERT_TRUE(store.write(host, kNoTx, "/local/domain/0/secret", "s"));
  ASSERT_TRUE(store.write(host, kNoTx, "/local/domain/2/name", "other"));
  EXPECT_EQ(read(guest, "/local/domain/0/secret"), "<EACCES>");
  EXPECT_EQ(read(guest, "/local/domain/2/name"), "<EACCES>");
  EXPECT_EQ(read(guest, "/"), "<EACCES>");
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "/local/domain/0/secret", "x")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "/evil", "x")), Errno::kEACCES);
  EXPECT_EQ(error_of(store.rm(guest, kNoTx, "/local/domain/0/secret")), Errno::kEACCES);
  EXPECT_FALSE(store.directory(guest, kNoTx, "/local/domain"));
  EXPECT_FALSE(store.get_perms(guest, kNoTx, "/local/domain/0/secret"));
  EXPECT_EQ(read(host, "/local/domain/0/secret"), "s");
}

TEST_F(XenstoreStore, MissingNodesAreENOENTOnlyToThoseWhoMayLook) {
  populate();
  EXPECT_EQ(read(guest, "control/missing"), "<ENOENT>");
  EXPECT_EQ(read(guest, "control/missing/deeper"), "<ENOENT>");
  EXPECT_EQ(read(guest, "/local/domain/0/missing"), "<EACCES>");
  EXPECT_EQ(read(guest, "/nowhere/at/all"), "<EACCES>");
  EXPECT_EQ(error_of(store.rm(guest, kNoTx, "/local/domain/0/x")), Errno::kEACCES);
  EXPECT_TRUE(store.rm(guest, kNoTx, "control/missing"));
}

TEST_F(XenstoreStore, OnlyTheOwnerSetsPermissionsAndOnlyDom0ChangesOwners) {
  populate();
  Permissions grant{{kGuest, Access::kNone}, {kOther, Access::kRead}};
  EXPECT_EQ(error_of(store.set_perms(guest, kNoTx, "memory", grant)), Errno::kEACCES);
  ASSERT_TRUE(store.write(guest, kNoTx, "data/shared", "hello"));
  EXPECT_EQ(read(other, "/local/domain/1/data/shared"), "<EACCES>");
  ASSERT_TRUE(store.set_perms(guest, kNoTx, "data/shared", grant));
  EXPECT_EQ(read(other, "/local/domain/1/data/shared"), "hello");
  EXPECT_EQ(error_of(store.write(other, kNoTx, "/local/domain/1/data/shared", "x")),
            Errno::kEACCES);
  EXPECT_EQ(error_of(store.set_perms(guest, kNoTx, "data/shared", {{kOther, Access::kBoth}})),
            Errno::kEPERM);
  EXPECT_EQ(error_of(store.set_perms(other, kNoTx, "/local/domain/1/data/shared", grant)),
            Errno::kEACCES);
  EXPECT_EQ(error_of(store.set_perms(guest, kNoTx, "data/missing", grant)), Errno::kENOENT);
  ASSERT_TRUE(
      store.set_perms(host, kNoTx, "/local/domain/1/data/shared", {{kOther, Access::kNone}}));
  EXPECT_EQ(store.nodes_owned_by(kOther), 1u);
}

TEST_F(XenstoreStore, SetTargetGivesTheTargetsRights) {
  populate();
  EXPECT_EQ(read(other, "memory/target"), "<EACCES>");  // other's own home
  EXPECT_EQ(read(other, "/local/domain/1/memory/target"), "<EACCES>");
  store.set_target(kOther, kGuest);
  EXPECT_EQ(read(other, "/local/domain/1/memory/target"), "524288");
  EXPECT_TRUE(store.write(other, kNoTx, "/local/domain/1/control/shutdown", "reboot"));
}

class XenstoreQuotas : public XenstoreStore {
 protected:
  XenstoreQuotas() : XenstoreStore(Quotas{14, 8, 2, 2}) {}
};

TEST_F(XenstoreQuotas, LimitWhatAGuestMayConsume) {
  populate();
  // The toolstack made 11 nodes the guest owns; they count.
  size_t owned = store.nodes_owned_by(kGuest);
  ASSERT_EQ(owned, 11u);
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "data/a/b/c/d/e", "")), Errno::kENOSPC);
  EXPECT_EQ(store.nodes_owned_by(kGuest), owned);  // nothing half-made
  EXPECT_EQ(read(guest, "data/a"), "<ENOENT>");
  EXPECT_EQ(error_of(store.write(guest, kNoTx, "data", "123456789")), Errno::kENOSPC);
  EXPECT_TRUE(store.write(guest, kNoTx, "data", "12345678"));

  EXPECT_TRUE(store.watch(guest, "a", "1"));
  EXPECT_TRUE(store.watch(guest, "b", "2"));
  EXPECT_EQ(error_of(store.watch(guest, "c", "3")), Errno::kE2BIG);

  EXPECT_TRUE(store.transaction_start(guest));
  EXPECT_TRUE(store.transaction_start(guest));
  auto third = store.transaction_start(guest);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), Errno::kENOSPC);

  // The control domain has no quota.
  EXPECT_TRUE(store.write(host, kNoTx, "/big", std::string(100, 'x')));
  EXPECT_TRUE(store.watch(host, "/x", "1"));
  EXPECT_TRUE(store.watch(host, "/y", "2"));
  EXPECT_TRUE(store.watch(host, "/z", "3"));
}

// --- Transactions ------------------------------------------------------------

TEST_F(XenstoreStore, TransactionWorksOnASnapshot) {
  ASSERT_TRUE(store.write(host, kNoTx, "/t/a", "before"));
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(tx);
  EXPECT_NE(*tx, kNoTransaction);
  ASSERT_TRUE(store.write(host, *tx, "/t/a", "inside"));
  ASSERT_TRUE(store.write(host, *tx, "/t/new", "n"));
  EXPECT_EQ(read(host, "/t/a"), "before");
  EXPECT_EQ(read(host, "/t/new"), "<ENOENT>");
  EXPECT_EQ(read(host, "/t/a", *tx), "inside");
  ASSERT_TRUE(store.transaction_end(host, *tx, true));
  EXPECT_EQ(read(host, "/t/a"), "inside");
  EXPECT_EQ(read(host, "/t/new"), "n");
  EXPECT_EQ(store.counters().transactions_committed, 1u);
}

TEST_F(XenstoreStore, TransactionDoesNotSeeLaterWritesAndThenConflictsWithThem) {
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(store.write(host, kNoTx, "/u/outside", "o"));
  EXPECT_EQ(read(host, "/u/outside", *tx), "<ENOENT>");
  EXPECT_EQ(error_of(store.transaction_end(host, *tx, true)), Errno::kEAGAIN);
  EXPECT_EQ(read(host, "/u/outside"), "o");
}

TEST_F(XenstoreStore, AbortDiscardsEverything) {
  ASSERT_TRUE(store.write(host, kNoTx, "/t/a", "before"));
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(store.write(host, *tx, "/t/a", "inside"));
  ASSERT_TRUE(store.rm(host, *tx, "/t"));
  ASSERT_TRUE(store.transaction_end(host, *tx, false));
  EXPECT_EQ(read(host, "/t/a"), "before");
  EXPECT_EQ(store.transaction_count(kHostConnection), 0u);
  EXPECT_EQ(store.counters().transactions_aborted, 1u);
}

TEST_F(XenstoreStore, CommitFailsWithEAGAINIfWhatItReadChanged) {
  ASSERT_TRUE(store.write(host, kNoTx, "/c/x", "1"));
  ASSERT_TRUE(store.set_perms(host, kNoTx, "/c", {{kGuest, Access::kNone}}));
  ASSERT_TRUE(store.set_perms(host, kNoTx, "/c/x", {{kGuest, Access::kNone}}));
  auto tx = store.transaction_start(guest);
  EXPECT_EQ(read(guest, "/c/x", *tx), "1");
  ASSERT_TRUE(store.write(guest, *tx, "/c/y", "2"));
  ASSERT_TRUE(store.write(host, kNoTx, "/c/x", "changed"));
  EXPECT_EQ(error_of(store.transaction_end(guest, *tx, true)), Errno::kEAGAIN);
  EXPECT_EQ(read(host, "/c/y"), "<ENOENT>");
  EXPECT_EQ(store.counters().transaction_conflicts, 1u);
  // The transaction is gone after EAGAIN.
  EXPECT_EQ(error_of(store.transaction_end(guest, *tx, false)), Errno::kENOENT);
  EXPECT_EQ(read(guest, "/c/x", *tx), "<ENOENT>");
}

TEST_F(XenstoreStore, UnrelatedWritesDoNotConflict) {
  ASSERT_TRUE(store.write(host, kNoTx, "/a/x", "1"));
  ASSERT_TRUE(store.write(host, kNoTx, "/b/y", "1"));
  auto tx = store.transaction_start(host);
  EXPECT_EQ(read(host, "/a/x", *tx), "1");
  ASSERT_TRUE(store.write(host, *tx, "/a/x", "2"));
  ASSERT_TRUE(store.write(host, kNoTx, "/b/y", "2"));
  ASSERT_TRUE(store.write(host, kNoTx, "/b/z", "new"));
  ASSERT_TRUE(store.transaction_end(host, *tx, true));
  EXPECT_EQ(read(host, "/a/x"), "2");
  EXPECT_EQ(read(host, "/b/y"), "2");
  EXPECT_EQ(read(host, "/b/z"), "new");
}

TEST_F(XenstoreStore, ConcurrentCreationOfTheSameNodeConflicts) {
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/d"));
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(store.write(host, *tx, "/d/n", "tx"));
  ASSERT_TRUE(store.write(host, kNoTx, "/d/n", "outside"));
  EXPECT_EQ(error_of(store.transaction_end(host, *tx, true)), Errno::kEAGAIN);
  EXPECT_EQ(read(host, "/d/n"), "outside");
}

TEST_F(XenstoreStore, ADirectoryListingConflictsWithANewChild) {
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/d"));
  auto tx = store.transaction_start(host);
  EXPECT_THAT(*store.directory(host, *tx, "/d"), IsEmpty());
  ASSERT_TRUE(store.write(host, *tx, "/other", ""));
  ASSERT_TRUE(store.write(host, kNoTx, "/d/child", ""));
  EXPECT_EQ(error_of(store.transaction_end(host, *tx, true)), Errno::kEAGAIN);
}

TEST_F(XenstoreStore, RemovalInATransactionConflictsWithChangesBelow) {
  ASSERT_TRUE(store.write(host, kNoTx, "/r/a/b", ""));
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(store.rm(host, *tx, "/r/a"));
  ASSERT_TRUE(store.write(host, kNoTx, "/r/a/b", "changed"));
  EXPECT_EQ(error_of(store.transaction_end(host, *tx, true)), Errno::kEAGAIN);
  EXPECT_EQ(read(host, "/r/a/b"), "changed");

  tx = store.transaction_start(host);
  ASSERT_TRUE(store.rm(host, *tx, "/r/a"));
  ASSERT_TRUE(store.transaction_end(host, *tx, true));
  EXPECT_EQ(read(host, "/r/a"), "<ENOENT>");
  EXPECT_THAT(*store.directory(host, kNoTx, "/r"), IsEmpty());
  EXPECT_EQ(store.node_count(), 2u);
}

TEST_F(XenstoreStore, TransactionsBelongToTheirConnection) {
  populate();
  auto tx = store.transaction_start(guest);
  ASSERT_TRUE(tx);
  EXPECT_EQ(read(other, "/local/domain/1/name", *tx), "<ENOENT>");
  EXPECT_EQ(error_of(store.transaction_end(other, *tx, true)), Errno::kENOENT);
  EXPECT_EQ(error_of(store.transaction_end(guest, kNoTransaction, true)), Errno::kENOENT);
  EXPECT_EQ(error_of(store.transaction_end(guest, 12345, true)), Errno::kENOENT);
  EXPECT_EQ(read(guest, "name", *tx), "guest");
  auto second = store.transaction_start(guest);
  EXPECT_NE(*second, *tx);
  store.reset_connection(guest.connection);
  EXPECT_EQ(store.transaction_count(guest.connection), 0u);
  EXPECT_EQ(read(guest, "name", *tx), "<ENOENT>");
}

TEST_F(XenstoreStore, QuotaCountsFollowCommittedTransactions) {
  populate();
  size_t owned = store.nodes_owned_by(kGuest);
  auto tx = store.transaction_start(guest);
  ASSERT_TRUE(store.write(guest, *tx, "data/x/y", "1"));
  EXPECT_EQ(store.nodes_owned_by(kGuest), owned);
  ASSERT_TRUE(store.transaction_end(guest, *tx, true));
  EXPECT_EQ(store.nodes_owned_by(kGuest), owned + 2);
  tx = store.transaction_start(guest);
  ASSERT_TRUE(store.rm(guest, *tx, "data/x"));
  ASSERT_TRUE(store.transaction_end(guest, *tx, true));
  EXPECT_EQ(store.nodes_owned_by(kGuest), owned);
}

// --- Watches -----------------------------------------------------------------

TEST_F(XenstoreStore, AWatchFiresOnceWhenRegistered) {
  ASSERT_TRUE(store.watch(host, "/not/there/yet", "tok"));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "/not/there/yet", "tok"}));
  ASSERT_TRUE(store.watch(guest, "memory/target", "balloon"));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kGuest, "memory/target", "balloon"}));
}

TEST_F(XenstoreStore, WatchesFireOnChangesAtOrBelowTheirPath) {
  ASSERT_TRUE(store.watch(host, "/w", "t"));
  take_events();
  ASSERT_TRUE(store.write(host, kNoTx, "/w", "1"));
  ASSERT_TRUE(store.write(host, kNoTx, "/w/child/deep", "2"));
  ASSERT_TRUE(store.write(host, kNoTx, "/wx", "sibling"));
  ASSERT_TRUE(store.write(host, kNoTx, "/", "root"));
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/w/dir"));
  ASSERT_TRUE(store.mkdir(host, kNoTx, "/w/dir"));  // exists: no change
  ASSERT_TRUE(store.set_perms(host, kNoTx, "/w", {{0, Access::kRead}}));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "/w", "t"},
                                         WatchEvent{kHostConnection, "/w/child/deep", "t"},
                                         WatchEvent{kHostConnection, "/w/dir", "t"},
                                         WatchEvent{kHostConnection, "/w", "t"}));
  EXPECT_EQ(store.counters().watch_events, 5u);
}

TEST_F(XenstoreStore, RemovalFiresWatchesAboveAndBelow) {
  ASSERT_TRUE(store.write(host, kNoTx, "/r/a/b/c", ""));
  ASSERT_TRUE(store.watch(host, "/r", "above"));
  ASSERT_TRUE(store.watch(host, "/r/a/b", "below"));
  ASSERT_TRUE(store.watch(host, "/r/a/b/c/never-existed", "deeper"));
  ASSERT_TRUE(store.watch(host, "/elsewhere", "no"));
  take_events();
  ASSERT_TRUE(store.rm(host, kNoTx, "/r/a"));
  EXPECT_THAT(take_events(),
              ElementsAre(WatchEvent{kHostConnection, "/r/a", "above"},
                          WatchEvent{kHostConnection, "/r/a/b", "below"},
                          WatchEvent{kHostConnection, "/r/a/b/c/never-existed", "deeper"}));
  ASSERT_TRUE(store.rm(host, kNoTx, "/r/a"));  // already gone: no change
  EXPECT_THAT(take_events(), IsEmpty());
}

TEST_F(XenstoreStore, RelativeWatchesReportRelativePaths) {
  populate();
  ASSERT_TRUE(store.watch(guest, "control/shutdown", "shutdown"));
  ASSERT_TRUE(store.watch(guest, "/local/domain/1/control", "absolute"));
  ASSERT_TRUE(store.watch(guest, "cpu", "cpu"));
  take_events();
  ASSERT_TRUE(request_shutdown(store, kGuest, "poweroff"));
  EXPECT_THAT(take_events(),
              ElementsAre(WatchEvent{kGuest, "control/shutdown", "shutdown"},
                          WatchEvent{kGuest, "/local/domain/1/control/shutdown", "absolute"}));
  ASSERT_TRUE(store.rm(host, kNoTx, "/local/domain/1/cpu/1"));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kGuest, "cpu/1", "cpu"}));
}

TEST_F(XenstoreStore, EventsCarryTheRegisteredToken) {
  ASSERT_TRUE(store.watch(host, "/a", "one"));
  ASSERT_TRUE(store.watch(host, "/a", "two"));
  ASSERT_TRUE(store.watch(guest, "/a", "guest's"));
  EXPECT_EQ(error_of(store.watch(host, "/a", "one")), Errno::kEEXIST);
  take_events();
  ASSERT_TRUE(store.set_perms(host, kNoTx, "/", {{0, Access::kRead}}));  // so the guest may see
  take_events();
  ASSERT_TRUE(store.write(host, kNoTx, "/a", "x"));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "/a", "one"},
                                         WatchEvent{kHostConnection, "/a", "two"},
                                         WatchEvent{kGuest, "/a", "guest's"}));
}

TEST_F(XenstoreStore, UnwatchStopsEvents) {
  ASSERT_TRUE(store.watch(guest, "data", "t"));
  ASSERT_TRUE(store.watch(host, "/local/domain/1/data", "t"));
  EXPECT_EQ(error_of(store.unwatch(guest, "data", "other-token")), Errno::kENOENT);
  EXPECT_EQ(error_of(store.unwatch(guest, "elsewhere", "t")), Errno::kENOENT);
  // The same watch, named by its absolute path.
  ASSERT_TRUE(store.unwatch(guest, "/local/domain/1/data", "t"));
  EXPECT_EQ(store.watch_count(guest.connection), 0u);
  EXPECT_EQ(store.watch_count(kHostConnection), 1u);
  take_events();
  populate();
  for (const WatchEvent& event : take_events())
    EXPECT_EQ(event.connection, kHostConnection);
}

TEST_F(XenstoreStore, WatchersOnlyLearnOfNodesTheyMayRead) {
  populate();
  ASSERT_TRUE(store.watch(guest, "/", "everything"));
  take_events();
  ASSERT_TRUE(store.write(host, kNoTx, "/local/domain/0/secret", "s"));
  ASSERT_TRUE(store.write(host, kNoTx, "/local/domain/1/memory/target", "1000"));
  EXPECT_THAT(take_events(),
              ElementsAre(WatchEvent{kGuest, "/local/domain/1/memory/target", "everything"}));
}

TEST_F(XenstoreStore, TransactionChangesFireOnlyWhenCommitted) {
  ASSERT_TRUE(store.watch(host, "/t", "t"));
  take_events();
  auto tx = store.transaction_start(host);
  ASSERT_TRUE(store.write(host, *tx, "/t/a", "1"));
  EXPECT_THAT(take_events(), IsEmpty());
  ASSERT_TRUE(store.transaction_end(host, *tx, false));
  EXPECT_THAT(take_events(), IsEmpty());

  tx = store.transaction_start(host);
  ASSERT_TRUE(store.write(host, *tx, "/t/a", "1"));
  ASSERT_TRUE(store.rm(host, *tx, "/t/a"));
  ASSERT_TRUE(store.write(host, *tx, "/t/b", "2"));
  EXPECT_THAT(take_events(), IsEmpty());
  ASSERT_TRUE(store.transaction_end(host, *tx, true));
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "/t/a", "t"},
                                         WatchEvent{kHostConnection, "/t/a", "t"},
                                         WatchEvent{kHostConnection, "/t/b", "t"}));
}

TEST_F(XenstoreStore, SpecialWatchesFireForPermittedWatchersOnly) {
  ASSERT_TRUE(store.watch(host, "@releaseDomain", "host"));
  ASSERT_TRUE(store.watch(guest, "@releaseDomain", "guest"));
  ASSERT_TRUE(store.watch(guest, "@introduceDomain", "intro"));
  EXPECT_EQ(take_events().size(), 3u);  // the initial events go to everyone
  store.fire_special(kReleaseDomain);
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "@releaseDomain", "host"}));
  ASSERT_TRUE(store.set_perms(host, kNoTx, "@releaseDomain",
                              {{0, Access::kNone}, {kGuest, Access::kRead}}));
  store.fire_special(kReleaseDomain);
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kHostConnection, "@releaseDomain", "host"},
                                         WatchEvent{kGuest, "@releaseDomain", "guest"}));
  ASSERT_TRUE(store.write(host, kNoTx, "/anything", ""));
  EXPECT_THAT(take_events(), IsEmpty());
}

TEST_F(XenstoreStore, ResetConnectionDropsWatchesAndTransactions) {
  ASSERT_TRUE(store.watch(guest, "a", "1"));
  ASSERT_TRUE(store.watch(other, "a", "1"));
  ASSERT_TRUE(store.transaction_start(guest));
  store.reset_connection(guest.connection);
  EXPECT_EQ(store.watch_count(guest.connection), 0u);
  EXPECT_EQ(store.watch_count(other.connection), 1u);
  EXPECT_EQ(store.transaction_count(guest.connection), 0u);
}

// --- Domain nodes ------------------------------------------------------------

TEST_F(XenstoreStore, PopulateDomainLaysOutNodesAsLibxlDoes) {
  std::array<uint8_t, 16> handle{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  populate_domain(store, 3, "debian", 1048576, 2, handle);
  const std::string uuid = "12345678-9abc-def0-0123-456789abcdef";
  EXPECT_EQ(format_uuid(handle), uuid);
  const Caller dom3 = Caller::domain(3);

  EXPECT_EQ(read(dom3, "name"), "debian");
  EXPECT_EQ(read(dom3, "domid"), "3");
  EXPECT_EQ(read(dom3, "vm"), "/vm/" + uuid);
  EXPECT_EQ(read(dom3, "/vm/" + uuid + "/uuid"), uuid);
  EXPECT_EQ(read(dom3, "/vm/" + uuid + "/name"), "debian");
  EXPECT_EQ(read(dom3, "memory/target"), "1048576");
  EXPECT_EQ(read(dom3, "memory/static-max"), "1048576");
  EXPECT_EQ(read(dom3, "cpu/0/availability"), "online");
  EXPECT_EQ(read(dom3, "cpu/1/availability"), "online");
  EXPECT_EQ(read(dom3, "cpu/2/availability"), "<ENOENT>");
  EXPECT_EQ(read(dom3, "control/shutdown"), "");
  EXPECT_EQ(read(dom3, "control/platform-feature-multiprocessor-suspend"), "1");
  EXPECT_THAT(*store.directory(dom3, kNoTx, "device"), ElementsAre("suspend"));

  const Permissions read_only{{0, Access::kNone}, {3, Access::kRead}};
  const Permissions owned{{3, Access::kNone}};
  for (std::string_view path : {"", "/name", "/memory", "/memory/target", "/cpu/1/availability",
                                "/device", "/control", "/vm", "/domid"}) {
    EXPECT_EQ(*store.get_perms(host, kNoTx, "/local/domain/3" + std::string(path)), read_only)
        << path;
  }
  EXPECT_EQ(*store.get_perms(host, kNoTx, "/vm/" + uuid), read_only);
  for (std::string_view path :
       {"/control/shutdown", "/control/sysrq", "/control/feature-poweroff",
        "/control/feature-reboot", "/control/feature-suspend", "/data", "/drivers", "/feature",
        "/attr", "/error", "/device/suspend/event-channel"}) {
    EXPECT_EQ(*store.get_perms(host, kNoTx, "/local/domain/3" + std::string(path)), owned) << path;
  }
}

TEST_F(XenstoreStore, PopulateDomainReplacesStaleNodes) {
  ASSERT_TRUE(store.write(host, kNoTx, "/local/domain/1/stale", "x"));
  populate();
  ASSERT_TRUE(store.write(guest, kNoTx, "data/old", "x"));
  populate();
  EXPECT_EQ(read(host, "/local/domain/1/stale"), "<ENOENT>");
  EXPECT_EQ(read(host, "/local/domain/1/data/old"), "<ENOENT>");
  EXPECT_EQ(read(guest, "name"), "guest");
}

TEST_F(XenstoreStore, ShutdownRequestsReachTheGuestsWatch) {
  populate();
  ASSERT_TRUE(store.watch(guest, "control/shutdown", "t"));
  take_events();
  ASSERT_TRUE(request_shutdown(store, kGuest, "reboot"));
  EXPECT_EQ(read(guest, "control/shutdown"), "reboot");
  EXPECT_THAT(take_events(), ElementsAre(WatchEvent{kGuest, "control/shutdown", "t"}));
  // The guest acknowledges by clearing the node.
  ASSERT_TRUE(store.write(guest, kNoTx, "control/shutdown", ""));
  EXPECT_EQ(error_of(request_shutdown(store, kGuest, "explode")), Errno::kEINVAL);
  ASSERT_TRUE(request_sysrq(store, kGuest, 'b'));
  EXPECT_EQ(read(guest, "control/sysrq"), "b");
}

}  // namespace
}  // namespace xpv::backends::xenstore
