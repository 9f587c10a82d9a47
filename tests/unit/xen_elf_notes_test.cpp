#include "domain/xen_elf_notes.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "unit/elf_builder.hpp"
#include "xen/abi.hpp"

namespace xpv::domain {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

XenFeatureSet features(std::initializer_list<unsigned> numbers) {
  XenFeatureSet set;
  for (const unsigned number : numbers)
    set.set(number);
  return set;
}

// Owns note descriptors so that ElfNote views stay valid for the test.
class Notes {
 public:
  Notes& add(std::string_view name, uint32_t type, Bytes desc) {
    storage_.push_back(std::move(desc));
    names_.emplace_back(name);
    types_.push_back(type);
    return *this;
  }
  Notes& text(uint32_t type, std::string_view value) {
    return add("Xen", type, test::text_bytes(value));
  }
  Notes& number(uint32_t type, uint64_t value, size_t size = 8) {
    return add("Xen", type, test::bytes_of(value, size));
  }
  // The notes every 64-bit PV Linux has.
  static Notes linux_minimum() {
    Notes notes;
    notes.text(XEN_ELFNOTE_GUEST_OS, "linux")
        .text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
        .number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase);
    return notes;
  }
  XenNotes parse() const {
    std::vector<ElfNote> notes;
    for (size_t i = 0; i < storage_.size(); ++i) {
      notes.push_back({names_[i], types_[i], storage_[i]});
    }
    return parse_xen_notes(notes);
  }

 private:
  std::vector<Bytes> storage_;
  std::vector<std::string> names_;
  std::vector<uint32_t> types_;
};

std::string check_message(const XenNotes& notes) {
  try {
    check_xen_notes(notes);
  } catch (const ImageError& error) {
    return error.what();
  }
  return "accepted";
}

std::string feature_message(const XenNotes& notes, const XenFeatureSet& provided) {
  try {
    check_required_features(notes, provided);
  } catch (const ImageError& error) {
    return error.what();
  }
  return "accepted";
}

// ---- FEATURES string ------------------------------------------------------------------------

TEST(XenFeatures, NamesMatchTheHeaderNumbers) {
  EXPECT_EQ(xen_feature_number("writable_page_tables"), XENFEAT_writable_page_tables);
  EXPECT_EQ(xen_feature_number("writable_descriptor_tables"), XENFEAT_writable_descriptor_tables);
  EXPECT_EQ(xen_feature_number("auto_translated_physmap"), XENFEAT_auto_translated_physmap);
  EXPECT_EQ(xen_feature_number("supervisor_mode_kernel"), XENFEAT_supervisor_mode_kernel);
  EXPECT_EQ(xen_feature_number("pae_pgdir_above_4gb"), XENFEAT_pae_pgdir_above_4gb);
  EXPECT_EQ(xen_feature_number("mmu_pt_update_preserve_ad"), XENFEAT_mmu_pt_update_preserve_ad);
  EXPECT_EQ(xen_feature_number("hvm_callback_vector"), XENFEAT_hvm_callback_vector);
  EXPECT_EQ(xen_feature_number("hvm_safe_pvclock"), XENFEAT_hvm_safe_pvclock);
  EXPECT_EQ(xen_feature_number("hvm_pirqs"), XENFEAT_hvm_pirqs);
  EXPECT_EQ(xen_feature_number("dom0"), XENFEAT_dom0);
  EXPECT_EQ(xen_feature_number("gnttab_map_avail_bits"), XENFEAT_gnttab_map_avail_bits);
  EXPECT_EQ(xen_feature_number("linux_rsdp_unrestricted"), XENFEAT_linux_rsdp_unrestricted);
  EXPECT_EQ(xen_feature_number("no_such_feature"), std::nullopt);
  EXPECT_EQ(xen_feature_number(""), std::nullopt);
}

TEST(XenFeatures, NamesNumbersBackAndCallsUnnamedOnesByNumber) {
  EXPECT_EQ(xen_feature_name(XENFEAT_dom0), "dom0");
  EXPECT_EQ(xen_feature_name(XENFEAT_writable_page_tables), "writable_page_tables");
  EXPECT_EQ(xen_feature_name(30), "feature 30");
}

TEST(XenFeatures, DescribesASetInFeaturesSyntax) {
  EXPECT_EQ(describe_features(features({XENFEAT_writable_page_tables, XENFEAT_dom0})),
            "writable_page_tables|dom0");
  EXPECT_EQ(describe_features({}), "");
}

TEST(XenFeatures, BareNameIsSupportedOnly) {
  const auto sets = parse_xen_features("writable_descriptor_tables|hvm_callback_vector");
  EXPECT_EQ(sets.supported,
            features({XENFEAT_writable_descriptor_tables, XENFEAT_hvm_callback_vector}));
  EXPECT_TRUE(sets.required.none());
}

TEST(XenFeatures, BangMakesAFeatureRequiredAndSupported) {
  const auto sets = parse_xen_features("!writable_page_tables|pae_pgdir_above_4gb");
  EXPECT_EQ(sets.required, features({XENFEAT_writable_page_tables}));
  EXPECT_EQ(sets.supported, features({XENFEAT_writable_page_tables, XENFEAT_pae_pgdir_above_4gb}));
}

TEST(XenFeatures, IgnoresUnknownBareNameAndEmptyItems) {
  const auto sets = parse_xen_features("|future_feature||dom0|");
  EXPECT_EQ(sets.supported, features({XENFEAT_dom0}));
  EXPECT_TRUE(sets.required.none());
}

TEST(XenFeatures, RefusesUnknownRequiredName) {
  try {
    parse_xen_features("writable_page_tables|!warp_drive");
    FAIL() << "accepted an unknown required feature";
  } catch (const ImageError& error) {
    EXPECT_STREQ(error.what(), "FEATURES requires unknown Xen feature \"warp_drive\"");
  }
}

TEST(XenFeatures, EmptyStringHasNoFeatures) {
  const auto sets = parse_xen_features("");
  EXPECT_TRUE(sets.supported.none());
  EXPECT_TRUE(sets.required.none());
}

TEST(XenFeatures, RequiredIsAlwaysASubsetOfSupported) {
  const auto sets = parse_xen_features("!dom0|!hvm_pirqs|supervisor_mode_kernel");
  EXPECT_EQ(sets.required & ~sets.supported, XenFeatureSet{});
}

// ---- note parsing ---------------------------------------------------------------------------

TEST(XenNotes, ReadsEveryNoteLinuxHas) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux")
      .text(XEN_ELFNOTE_GUEST_VERSION, "2.6")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
      .number(XEN_ELFNOTE_VIRT_BASE, 0xffffffff80000000)
      .number(XEN_ELFNOTE_PADDR_OFFSET, 0)
      .number(XEN_ELFNOTE_ENTRY, 0xffffffff8304c1c0)
      .number(XEN_ELFNOTE_INIT_P2M, 0x8000000000)
      .add("Xen", XEN_ELFNOTE_FEATURES,
           test::text_bytes("!writable_page_tables|pae_pgdir_above_4gb", false))
      .number(XEN_ELFNOTE_SUPPORTED_FEATURES, 0x8801, 4)
      .text(XEN_ELFNOTE_PAE_MODE, "yes")
      .text(XEN_ELFNOTE_LOADER, "generic")
      .add("Xen", XEN_ELFNOTE_L1_MFN_VALID, Bytes(16, 1))
      .number(XEN_ELFNOTE_SUSPEND_CANCEL, 1, 4)
      .number(XEN_ELFNOTE_MOD_START_PFN, 1, 4)
      .number(XEN_ELFNOTE_HV_START_LOW, 0xffff800000000000)
      .number(XEN_ELFNOTE_PHYS32_ENTRY, 0x01000850)
      .number(XEN_ELFNOTE_HYPERCALL_PAGE, 0xffffffff81001000);
  const XenNotes parsed = notes.parse();

  EXPECT_TRUE(parsed.present);
  EXPECT_EQ(parsed.guest_os, "linux");
  EXPECT_EQ(parsed.guest_version, "2.6");
  EXPECT_EQ(parsed.xen_version, "xen-3.0");
  EXPECT_EQ(parsed.loader, "generic");
  EXPECT_EQ(parsed.pae_mode, "yes");
  EXPECT_EQ(parsed.virt_base, 0xffffffff80000000);
  EXPECT_EQ(parsed.paddr_offset, 0u);
  EXPECT_EQ(parsed.entry, 0xffffffff8304c1c0);
  EXPECT_EQ(parsed.init_p2m, 0x8000000000u);
  EXPECT_EQ(parsed.hv_start_low, 0xffff800000000000);
  EXPECT_EQ(parsed.phys32_entry, 0x01000850u);
  EXPECT_EQ(parsed.hypercall_page, 0xffffffff81001000);
  EXPECT_TRUE(parsed.mod_start_pfn);
  EXPECT_TRUE(parsed.suspend_cancel);
  EXPECT_EQ(parsed.features_string, "!writable_page_tables|pae_pgdir_above_4gb");
  EXPECT_EQ(parsed.required, features({XENFEAT_writable_page_tables}));
  // FEATURES gives bits 0 and 4; SUPPORTED_FEATURES 0x8801 adds 11 (dom0) and 15.
  EXPECT_EQ(parsed.supported, features({XENFEAT_writable_page_tables, XENFEAT_pae_pgdir_above_4gb,
                                        XENFEAT_dom0, XENFEAT_linux_rsdp_unrestricted}));
}

TEST(XenNotes, AbsentNotesLeaveEverythingUnset) {
  const XenNotes parsed = Notes::linux_minimum().parse();
  EXPECT_FALSE(parsed.entry);
  EXPECT_FALSE(parsed.paddr_offset);
  EXPECT_FALSE(parsed.init_p2m);
  EXPECT_FALSE(parsed.hypercall_page);
  EXPECT_FALSE(parsed.phys32_entry);
  EXPECT_FALSE(parsed.mod_start_pfn);
  EXPECT_TRUE(parsed.supported.none());
}

TEST(XenNotes, IgnoresOtherOwnersAndUnknownTypes) {
  Notes notes;
  notes.add("GNU", XEN_ELFNOTE_VIRT_BASE, test::bytes_of(uint64_t{0x1234}))
      .add("Linux", XEN_ELFNOTE_GUEST_OS, test::text_bytes("plan9"))
      .add("Xen", 0x999, Bytes{1, 2, 3});
  const XenNotes parsed = notes.parse();
  EXPECT_TRUE(parsed.present);  // the unknown type is still a Xen note
  EXPECT_FALSE(parsed.virt_base);
  EXPECT_EQ(parsed.guest_os, "");
}

TEST(XenNotes, NoXenOwnerMeansNotPresent) {
  Notes notes;
  notes.add("GNU", 3, Bytes(20, 0));
  EXPECT_FALSE(notes.parse().present);
}

TEST(XenNotes, NumbersMayBeOneTwoFourOrEightBytes) {
  EXPECT_EQ(Notes().number(XEN_ELFNOTE_ENTRY, 0xab, 1).parse().entry, 0xabu);
  EXPECT_EQ(Notes().number(XEN_ELFNOTE_ENTRY, 0xabcd, 2).parse().entry, 0xabcdu);
  EXPECT_EQ(Notes().number(XEN_ELFNOTE_ENTRY, 0x12345678, 4).parse().entry, 0x12345678u);
  EXPECT_EQ(Notes().number(XEN_ELFNOTE_ENTRY, 0x1122334455667788, 8).parse().entry,
            0x1122334455667788u);
}

TEST(XenNotes, RefusesNumberOfAnotherSize) {
  try {
    Notes().number(XEN_ELFNOTE_VIRT_BASE, 0, 3).parse();
    FAIL() << "accepted a 3-byte VIRT_BASE";
  } catch (const ImageError& error) {
    EXPECT_STREQ(error.what(),
                 "Xen note VIRT_BASE has a 3-byte value; expected 1, 2, 4 or 8 bytes");
  }
}

TEST(XenNotes, RefusesSupportedFeaturesThatAreNotWholeWords) {
  EXPECT_THROW(Notes().add("Xen", XEN_ELFNOTE_SUPPORTED_FEATURES, Bytes{1, 2}).parse(), ImageError);
  EXPECT_THROW(Notes().add("Xen", XEN_ELFNOTE_SUPPORTED_FEATURES, Bytes{}).parse(), ImageError);
}

TEST(XenNotes, StringEndsAtNulOrAtTheEndOfTheDesc) {
  EXPECT_EQ(Notes().add("Xen", XEN_ELFNOTE_GUEST_OS, Bytes{'l', 'i', 0, 'x'}).parse().guest_os,
            "li");
  EXPECT_EQ(Notes().add("Xen", XEN_ELFNOTE_GUEST_OS, Bytes{'l', 'i'}).parse().guest_os, "li");
}

TEST(XenNotes, LaterNoteOverridesEarlierOne) {
  Notes notes;
  notes.number(XEN_ELFNOTE_VIRT_BASE, 1).number(XEN_ELFNOTE_VIRT_BASE, 2);
  EXPECT_EQ(notes.parse().virt_base, 2u);
}

TEST(XenNotes, UnknownRequiredFeatureInTheNoteIsRefused) {
  EXPECT_THROW(Notes().text(XEN_ELFNOTE_FEATURES, "!teleport").parse(), ImageError);
}

// ---- libelf's note checks -------------------------------------------------------------------

TEST(XenNoteCheck, AcceptsLinux) {
  EXPECT_EQ(check_message(Notes::linux_minimum().parse()), "accepted");
}

TEST(XenNoteCheck, AcceptsGenericLoaderWithAnyGuestOs) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "NetBSD")
      .text(XEN_ELFNOTE_LOADER, "generic")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
      .number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase);
  EXPECT_EQ(check_message(notes.parse()), "accepted");
}

TEST(XenNoteCheck, RefusesImageWithoutXenNotes) {
  EXPECT_EQ(check_message(XenNotes{}), "no Xen ELF notes: not a Xen PV kernel");
}

TEST(XenNoteCheck, RefusesNeitherLinuxNorGenericLoader) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "Plan9")
      .text(XEN_ELFNOTE_LOADER, "custom")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
      .number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase);
  EXPECT_EQ(check_message(notes.parse()),
            "Xen notes name neither GUEST_OS \"linux\" nor LOADER \"generic\" "
            "(GUEST_OS \"Plan9\", LOADER \"custom\")");
}

TEST(XenNoteCheck, RefusesOtherXenVersion) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-2.0")
      .number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase);
  EXPECT_EQ(check_message(notes.parse()), "XEN_VERSION is \"xen-2.0\", not \"xen-3.0\"");
}

TEST(XenNoteCheck, RefusesMissingXenVersion) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux").number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase);
  EXPECT_EQ(check_message(notes.parse()), "XEN_VERSION is \"\", not \"xen-3.0\"");
}

TEST(XenNoteCheck, RefusesMissingVirtBase) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux").text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
  EXPECT_EQ(check_message(notes.parse()), "no VIRT_BASE note");
}

TEST(XenNoteCheck, CallsAKernelWithOnlyPhys32EntryPvhOnly) {
  Notes notes;
  notes.number(XEN_ELFNOTE_PHYS32_ENTRY, 0x1000000, 4);
  EXPECT_EQ(check_message(notes.parse()),
            "PVH/HVM-only kernel: it has a PHYS32_ENTRY note but no ENTRY or VIRT_BASE; xpv boots "
            "PV kernels");
}

TEST(XenNoteCheck, CallsLinuxWithoutPvNotesPvhOnly) {
  // What Linux's xen-head.S emits without CONFIG_XEN_PV.
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
      .text(XEN_ELFNOTE_LOADER, "generic")
      .number(XEN_ELFNOTE_PHYS32_ENTRY, 0x1000000, 4);
  EXPECT_THAT(check_message(notes.parse()), ::testing::StartsWith("PVH/HVM-only kernel"));
}

TEST(XenNoteCheck, NamesThePvProblemOfAKernelThatAlsoHasPhys32Entry) {
  Notes notes;
  notes.text(XEN_ELFNOTE_GUEST_OS, "linux")
      .text(XEN_ELFNOTE_XEN_VERSION, "xen-4.0")
      .number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase)
      .number(XEN_ELFNOTE_PHYS32_ENTRY, 0x1000000, 4);
  EXPECT_EQ(check_message(notes.parse()), "XEN_VERSION is \"xen-4.0\", not \"xen-3.0\"");
}

TEST(XenNoteCheck, Phys32EntryBesidePvNotesIsFine) {
  auto notes = Notes::linux_minimum();
  notes.number(XEN_ELFNOTE_PHYS32_ENTRY, 0x1000000, 4);
  EXPECT_EQ(check_message(notes.parse()), "accepted");
}

// ---- libxc's feature checks -----------------------------------------------------------------

TEST(RequiredFeatures, AcceptsWhatXpvProvides) {
  auto notes = Notes::linux_minimum();
  notes.text(XEN_ELFNOTE_FEATURES, "!writable_page_tables|pae_pgdir_above_4gb");
  EXPECT_EQ(feature_message(notes.parse(), features({XENFEAT_writable_page_tables})), "accepted");
}

TEST(RequiredFeatures, RefusesAndNamesWhatXpvLacks) {
  auto notes = Notes::linux_minimum();
  notes.text(XEN_ELFNOTE_FEATURES, "!writable_page_tables|!hvm_callback_vector|!hvm_pirqs");
  EXPECT_EQ(feature_message(notes.parse(), features({XENFEAT_writable_page_tables})),
            "kernel requires Xen features xpv does not provide: hvm_callback_vector|hvm_pirqs");
}

TEST(RequiredFeatures, RefusesDom0OnlyKernelAsDomU) {
  auto notes = Notes::linux_minimum();
  notes.text(XEN_ELFNOTE_FEATURES, "!dom0");
  EXPECT_EQ(feature_message(notes.parse(), features({XENFEAT_dom0})),
            "kernel requires dom0: it cannot run as the unprivileged domU xpv builds");
}

TEST(RequiredFeatures, RefusesAutoTranslatedPhysmap) {
  auto notes = Notes::linux_minimum();
  notes.text(XEN_ELFNOTE_FEATURES, "!auto_translated_physmap");
  EXPECT_THAT(feature_message(notes.parse(), features({XENFEAT_auto_translated_physmap})),
              HasSubstr("kernel requires auto_translated_physmap"));
}

TEST(RequiredFeatures, SupportedDom0IsNotARequirement) {
  auto notes = Notes::linux_minimum();
  notes.number(XEN_ELFNOTE_SUPPORTED_FEATURES, 1u << XENFEAT_dom0, 4);
  EXPECT_EQ(feature_message(notes.parse(), {}), "accepted");
}

}  // namespace
}  // namespace xpv::domain
