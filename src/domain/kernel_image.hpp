// Loading a 64-bit PV kernel: a vmlinux ELF, or a bzImage that wraps one, checked the way Xen's
// libelf and libxc check it (linux-pv-guest.md §1) and reduced to what the domain builder needs:
// the segments to copy, the Xen notes, and where the kernel sits in the guest's virtual space.
//
// This header is also the vocabulary of the loader's parts (elf_image, xen_elf_notes, bzimage),
// which all report a bad image with ImageError.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/hex.hpp"

namespace xpv::domain {

// Something is wrong with the kernel image; the message says what, in one line.
class ImageError : public xpv::Error {
 public:
  using Error::Error;
};

// Indexed by XENFEAT_* numbers (xen/features.h): one submap, XENFEAT_NR_SUBMAPS == 1.
using XenFeatureSet = std::bitset<32>;

// What the kernel's Xen ELF notes say (xen/elfnote.h), before any check.
struct XenNotes {
  bool present = false;  // any note named "Xen" was found
  std::optional<uint64_t> entry, hypercall_page, virt_base, paddr_offset, init_p2m, hv_start_low;
  bool mod_start_pfn = false, suspend_cancel = false;
  std::string guest_os, guest_version, xen_version, loader, pae_mode, features_string;
  // From FEATURES after '!' parsing (a required feature is also supported), with the
  // SUPPORTED_FEATURES bitmap OR-ed into `supported`.
  XenFeatureSet supported, required;
  std::optional<uint64_t> phys32_entry;  // PVH entry: only used to refuse PVH-only kernels clearly
};

// One PT_LOAD program header that occupies memory.
struct LoadSegment {
  uint64_t paddr = 0, vaddr = 0, filesz = 0, memsz = 0;
  uint64_t file_offset = 0;
  uint32_t flags = 0;  // PF_R | PF_W | PF_X
};

struct KernelImage {
  std::vector<uint8_t> elf;           // the ELF (decompressed if the file was a bzImage)
  std::vector<LoadSegment> segments;  // PT_LOAD with memsz > 0, sorted by paddr, not overlapping
  XenNotes notes;
  // As libelf resolves them (elf_xen_addr_calc_check): VIRT_BASE is required by xpv;
  // PADDR_OFFSET defaults to 0 for a kernel with ELF notes.
  uint64_t virt_base = 0, paddr_offset = 0;
  // VIRT_BASE - PADDR_OFFSET + the lowest / highest paddr of the loaded range.
  uint64_t virt_kstart = 0, virt_kend = 0;
  uint64_t virt_entry = 0;  // ENTRY note, else e_entry
  std::string format;       // "ELF", "bzImage (lz4)", ... for messages

  uint64_t loaded_size() const { return virt_kend - virt_kstart; }
  // Fills `dest`, which stands for [virt_kstart, virt_kstart + dest.size()) and must cover
  // [virt_kstart, virt_kend): segment bytes at their paddr, zeroes for bss, gaps and the tail.
  // Relies on `elf` and `segments` being as load_kernel_image validated them.
  void copy_to(std::span<uint8_t> dest) const;
};

// Upper bound on the decompressed ELF and on the loaded range: a real kernel is tens of MiB,
// so anything larger is a broken or hostile image.
inline constexpr uint64_t kMaxKernelBytes = uint64_t{1} << 30;
// Upper bound on the kernel file itself.
inline constexpr uint64_t kMaxKernelFileBytes = uint64_t{256} << 20;

// "0x1f": how the loader's messages print addresses and sizes.

// Loads an ELF or bzImage from memory. Refuses a kernel whose required Xen features are not all
// in `features_xpv_provides`.
KernelImage load_kernel_image(std::span<const uint8_t> file, XenFeatureSet features_xpv_provides);
// Reads `path` (at most kMaxKernelFileBytes) and loads it; ImageError messages start "<path>: ".
KernelImage load_kernel_file(const std::string& path, XenFeatureSet features_xpv_provides);

}  // namespace xpv::domain
