#include "domain/xen_elf_notes.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "xen/abi.hpp"

namespace xpv::domain {
namespace {

static_assert(XENFEAT_NR_SUBMAPS * 32 == XenFeatureSet().size(),
              "XenFeatureSet holds every submap of xen/features.h");

struct FeatureName {
  std::string_view name;
  unsigned number;
};

// Each name is the XENFEAT_ macro's own suffix, so the spelling cannot drift from the header.
// libelf knows only seven of these; xpv knows every one the header defines (12,
// grant_map_identity, is commented out there) so that it can name what a kernel requires.
#define XPV_FEATURE(name) \
  FeatureName {           \
#name, XENFEAT_##name \
  }
constexpr std::array kFeatureNames = {
    XPV_FEATURE(writable_page_tables),
    XPV_FEATURE(writable_descriptor_tables),
    XPV_FEATURE(auto_translated_physmap),
    XPV_FEATURE(supervisor_mode_kernel),
    XPV_FEATURE(pae_pgdir_above_4gb),
    XPV_FEATURE(mmu_pt_update_preserve_ad),
    XPV_FEATURE(highmem_assist),
    XPV_FEATURE(gnttab_map_avail_bits),
    XPV_FEATURE(hvm_callback_vector),
    XPV_FEATURE(hvm_safe_pvclock),
    XPV_FEATURE(hvm_pirqs),
    XPV_FEATURE(dom0),
    XPV_FEATURE(memory_op_vnode_supported),
    XPV_FEATURE(ARM_SMCCC_supported),
    XPV_FEATURE(linux_rsdp_unrestricted),
    XPV_FEATURE(not_direct_mapped),
    XPV_FEATURE(direct_mapped),
};
#undef XPV_FEATURE

std::string_view note_type_name(uint32_t type) {
  switch (type) {
    case XEN_ELFNOTE_ENTRY:
      return "ENTRY";
    case XEN_ELFNOTE_HYPERCALL_PAGE:
      return "HYPERCALL_PAGE";
    case XEN_ELFNOTE_VIRT_BASE:
      return "VIRT_BASE";
    case XEN_ELFNOTE_PADDR_OFFSET:
      return "PADDR_OFFSET";
    case XEN_ELFNOTE_HV_START_LOW:
      return "HV_START_LOW";
    case XEN_ELFNOTE_SUSPEND_CANCEL:
      return "SUSPEND_CANCEL";
    case XEN_ELFNOTE_INIT_P2M:
      return "INIT_P2M";
    case XEN_ELFNOTE_MOD_START_PFN:
      return "MOD_START_PFN";
    case XEN_ELFNOTE_SUPPORTED_FEATURES:
      return "SUPPORTED_FEATURES";
    case XEN_ELFNOTE_PHYS32_ENTRY:
      return "PHYS32_ENTRY";
    default:
      return "Xen note";
  }
}

// A numeric note holds a 1, 2, 4 or 8-byte little-endian value (libelf's elf_note_numeric).
// libelf reads any other size as 0; xpv refuses it, since a silent 0 would misplace the kernel.
uint64_t numeric_value(const ElfNote& note) {
  const size_t size = note.desc.size();
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    throw ImageError("Xen note " + std::string(note_type_name(note.type)) + " has a " +
                     std::to_string(size) + "-byte value; expected 1, 2, 4 or 8 bytes");
  }
  uint64_t value = 0;
  std::memcpy(&value, note.desc.data(), size);  // x86-64: little-endian, like the note
  return value;
}

// A string note ends at its NUL. Linux's FEATURES has none (its desc ends at the last character
// and the padding follows), so the string also ends where the desc does.
std::string text_value(const ElfNote& note) {
  const auto* chars = reinterpret_cast<const char*>(note.desc.data());
  return {chars, strnlen(chars, note.desc.size())};
}

// SUPPORTED_FEATURES is an array of 32-bit submaps; xen/features.h defines only the first.
XenFeatureSet supported_features_bitmap(const ElfNote& note) {
  if (note.desc.empty() || note.desc.size() % sizeof(uint32_t) != 0) {
    throw ImageError("Xen note SUPPORTED_FEATURES has " + std::to_string(note.desc.size()) +
                     " bytes; expected a multiple of 4");
  }
  uint32_t first_submap = 0;
  std::memcpy(&first_submap, note.desc.data(), sizeof first_submap);
  return XenFeatureSet(first_submap);
}

void apply_features(XenNotes& notes, std::string features) {
  const auto sets = parse_xen_features(features);
  notes.supported |= sets.supported;
  notes.required |= sets.required;
  notes.features_string = std::move(features);
}

void apply_note(XenNotes& notes, const ElfNote& note) {
  switch (note.type) {
    case XEN_ELFNOTE_ENTRY:
      notes.entry = numeric_value(note);
      break;
    case XEN_ELFNOTE_HYPERCALL_PAGE:
      notes.hypercall_page = numeric_value(note);
      break;
    case XEN_ELFNOTE_VIRT_BASE:
      notes.virt_base = numeric_value(note);
      break;
    case XEN_ELFNOTE_PADDR_OFFSET:
      notes.paddr_offset = numeric_value(note);
      break;
    case XEN_ELFNOTE_INIT_P2M:
      notes.init_p2m = numeric_value(note);
      break;
    case XEN_ELFNOTE_HV_START_LOW:
      notes.hv_start_low = numeric_value(note);
      break;
    case XEN_ELFNOTE_MOD_START_PFN:
      notes.mod_start_pfn = numeric_value(note) != 0;
      break;
    case XEN_ELFNOTE_SUSPEND_CANCEL:
      notes.suspend_cancel = numeric_value(note) != 0;
      break;
    case XEN_ELFNOTE_PHYS32_ENTRY:
      notes.phys32_entry = numeric_value(note);
      break;
    case XEN_ELFNOTE_GUEST_OS:
      notes.guest_os = text_value(note);
      break;
    case XEN_ELFNOTE_GUEST_VERSION:
      notes.guest_version = text_value(note);
      break;
    case XEN_ELFNOTE_XEN_VERSION:
      notes.xen_version = text_value(note);
      break;
    case XEN_ELFNOTE_LOADER:
      notes.loader = text_value(note);
      break;
    case XEN_ELFNOTE_PAE_MODE:
      notes.pae_mode = text_value(note);
      break;
    case XEN_ELFNOTE_FEATURES:
      apply_features(notes, text_value(note));
      break;
    case XEN_ELFNOTE_SUPPORTED_FEATURES:
      notes.supported |= supported_features_bitmap(note);
      break;
    default:
      // INFO, BSD_SYMTAB, L1_MFN_VALID and unknown types change nothing for a 64-bit PV domU.
      break;
  }
}

// The first reason these notes do not describe a PV kernel xpv can place, if any.
std::optional<std::string> pv_notes_problem(const XenNotes& notes) {
  // libelf compares only the first 5, 7 and 7 characters (strncmp in elf_xen_note_check).
  if (!notes.guest_os.starts_with("linux") && !notes.loader.starts_with("generic")) {
    return "Xen notes name neither GUEST_OS \"linux\" nor LOADER \"generic\" (GUEST_OS \"" +
           notes.guest_os + "\", LOADER \"" + notes.loader + "\")";
  }
  if (!notes.xen_version.starts_with("xen-3.0")) {
    return "XEN_VERSION is \"" + notes.xen_version + "\", not \"xen-3.0\"";
  }
  // libelf would assume 0; no 64-bit PV kernel runs at virtual address 0, so xpv insists.
  if (!notes.virt_base) return "no VIRT_BASE note";
  return std::nullopt;
}

}  // namespace

std::optional<unsigned> xen_feature_number(std::string_view name) {
  auto found = std::find_if(kFeatureNames.begin(), kFeatureNames.end(),
                            [&](const FeatureName& feature) { return feature.name == name; });
  if (found == kFeatureNames.end()) return std::nullopt;
  return found->number;
}

std::string xen_feature_name(unsigned number) {
  auto found = std::find_if(kFeatureNames.begin(), kFeatureNames.end(),
                            [&](const FeatureName& feature) { return feature.number == number; });
  if (found == kFeatureNames.end()) return "feature " + std::to_string(number);
  return std::string(found->name);
}

std::string describe_features(const XenFeatureSet& features) {
  std::string text;
  for (unsigned number = 0; number < features.size(); ++number) {
    if (!features.test(number)) continue;
    if (!text.empty()) text += '|';
    text += xen_feature_name(number);
  }
  return text;
}

XenFeatureSets parse_xen_features(std::string_view features) {
  XenFeatureSets sets;
  while (!features.empty()) {
    const size_t bar = features.find('|');
    std::string_view item = features.substr(0, bar);
    features = bar == std::string_view::npos ? std::string_view() : features.substr(bar + 1);

    const bool required = item.starts_with('!');
    if (required) item.remove_prefix(1);
    const auto number = xen_feature_number(item);
    if (!number) {
      if (required) {
        throw ImageError("FEATURES requires unknown Xen feature \"" + std::string(item) + "\"");
      }
      continue;  // an unknown optional feature is no reason to refuse a kernel
    }
    sets.supported.set(*number);
    if (required) sets.required.set(*number);
  }
  return sets;
}

XenNotes parse_xen_notes(std::span<const ElfNote> notes) {
  XenNotes parsed;
  for (const auto& note : notes) {
    if (note.name != "Xen") continue;
    parsed.present = true;
    apply_note(parsed, note);
  }
  return parsed;
}

void check_xen_notes(const XenNotes& notes) {
  if (!notes.present) throw ImageError("no Xen ELF notes: not a Xen PV kernel");
  // Linux built without CONFIG_XEN_PV keeps GUEST_OS, LOADER and XEN_VERSION but loses the PV
  // placement notes; say that rather than which PV note is missing.
  if (notes.phys32_entry && !notes.entry && !notes.virt_base) {
    throw ImageError(
        "PVH/HVM-only kernel: it has a PHYS32_ENTRY note but no ENTRY or VIRT_BASE; xpv boots PV "
        "kernels");
  }
  if (const auto problem = pv_notes_problem(notes)) throw ImageError(*problem);
}

void check_required_features(const XenNotes& notes, const XenFeatureSet& features_xpv_provides) {
  // libxc refuses both before looking at what the hypervisor offers.
  if (notes.required.test(XENFEAT_dom0)) {
    throw ImageError("kernel requires dom0: it cannot run as the unprivileged domU xpv builds");
  }
  if (notes.required.test(XENFEAT_auto_translated_physmap)) {
    throw ImageError("kernel requires auto_translated_physmap: a PV guest manages its own physmap");
  }
  // required is a subset of supported by construction: '!' sets both bits.
  const XenFeatureSet missing = notes.required & ~features_xpv_provides;
  if (missing.any()) {
    throw ImageError("kernel requires Xen features xpv does not provide: " +
                     describe_features(missing));
  }
}

}  // namespace xpv::domain
