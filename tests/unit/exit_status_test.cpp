// How each way a domain ends maps to `xpv run`'s exit status (README.md,
// "Exit status"): a script must be able to tell a guest's crash from a
// failure of xpv itself.
#include "vmm/shutdown.hpp"

#include <gtest/gtest.h>

#include <string>

namespace xpv::vmm {
namespace {

TEST(ExitStatus, EachWayADomainEndsHasTheDocumentedStatus) {
  EXPECT_EQ(exit_status_for(DomainEnd::kPoweroff), 0);
  EXPECT_EQ(exit_status_for(DomainEnd::kCrash), 2);
  EXPECT_EQ(exit_status_for(DomainEnd::kReboot), 3);
  EXPECT_EQ(exit_status_for(DomainEnd::kSuspend), 4);
  EXPECT_EQ(exit_status_for(DomainEnd::kDestroyed), 5);
}

TEST(ExitStatus, AnXpvFailureIsAnXpvErrorNotAGuestCrash) {
  EXPECT_EQ(exit_status_for(DomainEnd::kXpvFailure), exit_status::kXpvError);
  EXPECT_EQ(std::string(describe(DomainEnd::kXpvFailure)), "stopped by an xpv internal error");
  EXPECT_EQ(std::string(describe(DomainEnd::kCrash)), "crashed");
}

}  // namespace
}  // namespace xpv::vmm
