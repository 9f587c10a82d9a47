// The Xen ELF notes of a PV kernel (xen/elfnote.h): parsing, the FEATURES string with its '!'
// prefix (linux-pv-guest.md §1.4), and the checks libelf and libxc apply before building a domain.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "domain/elf_image.hpp"
#include "domain/kernel_image.hpp"

namespace xpv::domain {

// A XENFEAT_* number from its name as spelled in xen/features.h and in FEATURES notes.
std::optional<unsigned> xen_feature_number(std::string_view name);
// The name of a XENFEAT_* number, or "feature <n>" for a number xen/features.h does not name.
std::string xen_feature_name(unsigned number);
// "writable_page_tables|dom0": the set in FEATURES syntax, for messages.
std::string describe_features(const XenFeatureSet& features);

struct XenFeatureSets {
  XenFeatureSet supported, required;
};
// Splits a FEATURES string on '|'. A bare name is supported; "!name" is required and therefore
// also supported. An unknown bare name is ignored and an unknown "!name" refused, as libelf does.
XenFeatureSets parse_xen_features(std::string_view features);

// Reads the notes named "Xen"; ignores other owners and unknown types. A later note of a type
// overrides an earlier one, as in libelf. Throws ImageError on a malformed value.
XenNotes parse_xen_notes(std::span<const ElfNote> notes);

// libelf's elf_xen_note_check for a PV guest, plus xpv's need for VIRT_BASE: Xen notes present,
// GUEST_OS "linux" or LOADER "generic", XEN_VERSION "xen-3.0", VIRT_BASE. A kernel with a
// PHYS32_ENTRY but neither ENTRY nor VIRT_BASE is reported as PVH/HVM-only.
void check_xen_notes(const XenNotes& notes);

// libxc's feature checks for a PV domU (xg_dom_elfloader.c, xg_dom_x86.c), and that xpv
// implements every feature the kernel requires.
void check_required_features(const XenNotes& notes, const XenFeatureSet& features_xpv_provides);

}  // namespace xpv::domain
