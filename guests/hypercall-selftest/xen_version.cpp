// xen_version (xen/common/kernel.c do_xen_version). Commands with an output
// buffer return 0 or -EFAULT; the others return their value.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace selftest;
using xpv::guest::hypercall;
using xpv::guest::xen_version;

constexpr uint32_t kAdvertisedFeatures = (1U << XENFEAT_mmu_pt_update_preserve_ad) |
                                         (1U << XENFEAT_gnttab_map_avail_bits) |
                                         (1U << XENFEAT_highmem_assist);

long xen_version_at(int cmd, uint64_t address) {
  return xen_version(cmd, reinterpret_cast<void*>(address));
}

// Every command with an output buffer, for the bad-pointer tests.
constexpr int kCommandsWithBuffers[] = {
    XENVER_extraversion,        XENVER_compile_info, XENVER_capabilities, XENVER_changeset,
    XENVER_platform_parameters, XENVER_get_features, XENVER_guest_handle,
};

uint32_t features_submap0() {
  xen_feature_info_t info{};
  info.submap_idx = 0;
  long rc = xen_version(XENVER_get_features, &info);
  if (rc != 0) xpv::guest::panic("XENVER_get_features failed: %ld", rc);
  return info.submap;
}

long vm_assist(unsigned cmd, unsigned type) {
  return hypercall(__HYPERVISOR_vm_assist, cmd, type);
}

XPV_TEST(VersionIs4_17AndIgnoresItsArgument) {
  XPV_EXPECT_EQ(xen_version(XENVER_version, nullptr), (4 << 16) | 17);
  XPV_EXPECT_EQ(xen_version_at(XENVER_version, kUnmappedUserAddress), (4 << 16) | 17);
}

XPV_TEST(ExtraversionIsDashXpv) {
  xen_extraversion_t text;
  memset(text, 'X', sizeof text);
  XPV_ASSERT_EQ(xen_version(XENVER_extraversion, text), 0);
  XPV_EXPECT(equals(text, "-xpv"));
}

XPV_TEST(CompileInfoFieldsAreNulTerminatedStrings) {
  xen_compile_info_t info;
  memset(&info, 'X', sizeof info);
  XPV_ASSERT_EQ(xen_version(XENVER_compile_info, &info), 0);
  XPV_EXPECT(is_nul_terminated(info.compiler, sizeof info.compiler));
  XPV_EXPECT(is_nul_terminated(info.compile_by, sizeof info.compile_by));
  XPV_EXPECT(is_nul_terminated(info.compile_domain, sizeof info.compile_domain));
  XPV_EXPECT(is_nul_terminated(info.compile_date, sizeof info.compile_date));
  XPV_EXPECT(info.compiler[0] != '\0');
}

// Linux checks for "xen-3.0-x86_64" before it trusts the 64-bit PV ABI.
XPV_TEST(CapabilitiesAre64BitPvOnly) {
  xen_capabilities_info_t text;
  memset(text, 'X', sizeof text);
  XPV_ASSERT_EQ(xen_version(XENVER_capabilities, text), 0);
  XPV_EXPECT(equals(text, "xen-3.0-x86_64 "));
}

XPV_TEST(ChangesetIsANulTerminatedString) {
  xen_changeset_info_t text;
  memset(text, 'X', sizeof text);
  XPV_ASSERT_EQ(xen_version(XENVER_changeset, text), 0);
  XPV_EXPECT(is_nul_terminated(text, sizeof text));
}

XPV_TEST(PlatformParametersGiveHypervisorVirtStart) {
  xen_platform_parameters_t params{};
  XPV_ASSERT_EQ(xen_version(XENVER_platform_parameters, &params), 0);
  XPV_EXPECT_EQ(params.virt_start, HYPERVISOR_VIRT_START);
}

XPV_TEST(FeatureSubmap0IsWhatXenGivesA64BitPvDomU) {
  XPV_EXPECT_EQ(features_submap0(), kAdvertisedFeatures);
}

// Xen adds pae_pgdir_above_4gb while the guest has the pae_extended_cr3
// assist on, and takes it away again when the assist is turned off.
XPV_TEST(PaeExtendedCr3AssistAddsPaePgdirAbove4gb) {
  constexpr uint32_t kPaePgdir = 1U << XENFEAT_pae_pgdir_above_4gb;
  XPV_ASSERT_EQ(vm_assist(VMASST_CMD_enable, VMASST_TYPE_pae_extended_cr3), 0);
  XPV_EXPECT_EQ(features_submap0(), kAdvertisedFeatures | kPaePgdir);
  XPV_ASSERT_EQ(vm_assist(VMASST_CMD_disable, VMASST_TYPE_pae_extended_cr3), 0);
  XPV_EXPECT_EQ(features_submap0(), kAdvertisedFeatures);
}

XPV_TEST(OtherFeatureSubmapsFailWithEinval) {
  constexpr unsigned kOtherSubmaps[] = {1, 2, 0xffffffff};
  for (unsigned index : kOtherSubmaps) {
    xen_feature_info_t info{};
    info.submap_idx = index;
    XPV_EXPECT_EQ(xen_version(XENVER_get_features, &info), -XEN_EINVAL);
  }
}

XPV_TEST(PagesizeIs4096) {
  XPV_EXPECT_EQ(xen_version(XENVER_pagesize, nullptr), 4096);
}

// The domain's handle is a random (version 4, RFC 4122 variant) UUID that
// stays the same for the life of the domain.
XPV_TEST(GuestHandleIsAStableVersion4Uuid) {
  xen_domain_handle_t first;
  xen_domain_handle_t second;
  XPV_ASSERT_EQ(xen_version(XENVER_guest_handle, first), 0);
  XPV_ASSERT_EQ(xen_version(XENVER_guest_handle, second), 0);
  XPV_EXPECT_EQ(memcmp(first, second, sizeof first), 0);
  XPV_EXPECT_EQ(first[6] >> 4, 4);
  XPV_EXPECT_EQ(first[8] & 0xc0, 0x80);
}

// The default XSM policy gives these to privileged domains only.
XPV_TEST(CommandlineAndBuildIdAreRefusedWithEperm) {
  xen_commandline_t text;
  XPV_EXPECT_EQ(xen_version(XENVER_commandline, text), -XEN_EPERM);
  XPV_EXPECT_EQ(xen_version_at(XENVER_commandline, kUnmappedUserAddress), -XEN_EPERM);
  XPV_EXPECT_EQ(xen_version_at(XENVER_build_id, kUnmappedUserAddress), -XEN_EPERM);
}

XPV_TEST(BadOutputBufferFailsWithEfault) {
  uint64_t read_only = xpv::guest::start_info_page().pt_base;
  for (int cmd : kCommandsWithBuffers) {
    for (uint64_t address : kBadAddresses) {
      XPV_EXPECT_EQ(xen_version_at(cmd, address), -XEN_EFAULT);
    }
    XPV_EXPECT_EQ(xen_version_at(cmd, read_only), -XEN_EFAULT);
  }
}

XPV_TEST(UnknownCommandFailsWithEnosys) {
  XPV_EXPECT_EQ(xen_version(64, nullptr), -XEN_ENOSYS);
  XPV_EXPECT_EQ(xen_version(-1, nullptr), -XEN_ENOSYS);
}

}  // namespace
