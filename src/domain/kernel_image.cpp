#include "domain/kernel_image.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "domain/bzimage.hpp"
#include "domain/elf_image.hpp"
#include "domain/xen_elf_notes.hpp"

namespace xpv::domain {
namespace {

struct UnwrappedKernel {
  std::vector<uint8_t> elf;
  std::string format;
};

UnwrappedKernel unwrap_kernel(std::span<const uint8_t> file) {
  if (has_elf_magic(file)) {
    if (file.size() > kMaxKernelBytes) {
      throw ImageError("ELF of " + to_hex(file.size()) + " bytes is larger than the limit of " +
                       to_hex(kMaxKernelBytes));
    }
    return {{file.begin(), file.end()}, "ELF"};
  }
  if (has_bzimage_header(file)) {
    auto payload = unpack_bzimage(file, kMaxKernelBytes);
    std::string format = "bzImage (" + std::string(compression_name(payload.compression)) + ")";
    if (!has_elf_magic(payload.decompressed)) {
      throw ImageError(format + ": the decompressed payload is not an ELF");
    }
    return {std::move(payload.decompressed), std::move(format)};
  }
  throw ImageError("not a kernel image: no ELF or bzImage header");
}

XenNotes read_xen_notes(const ElfImage& elf) {
  auto notes = parse_xen_notes(elf.segment_notes());
  // Like libelf (elf_xen_parse): note sections only when the note segments hold no Xen note.
  if (!notes.present) notes = parse_xen_notes(elf.section_notes());
  if (!notes.present && elf.has_section("__xen_guest")) {
    throw ImageError("legacy __xen_guest section instead of Xen ELF notes: xpv needs the notes");
  }
  return notes;
}

// paddr + VIRT_BASE - PADDR_OFFSET, the placement rule of linux-pv-guest.md §1.2. libelf lets it
// wrap around 2^64; xpv refuses a kernel whose addresses would.
uint64_t virtual_address(uint64_t paddr, uint64_t virt_base, uint64_t paddr_offset) {
  uint64_t virt = 0;
  const bool wrapped = virt_base >= paddr_offset
                           ? __builtin_add_overflow(paddr, virt_base - paddr_offset, &virt)
                           : __builtin_sub_overflow(paddr, paddr_offset - virt_base, &virt);
  if (wrapped) {
    throw ImageError("paddr " + to_hex(paddr) + " + VIRT_BASE " + to_hex(virt_base) +
                     " - PADDR_OFFSET " + to_hex(paddr_offset) +
                     " leaves the 64-bit address space");
  }
  return virt;
}

std::string range_text(const KernelImage& image) {
  return "[" + to_hex(image.virt_kstart) + ", " + to_hex(image.virt_kend) + ")";
}

bool in_kernel(const KernelImage& image, uint64_t address) {
  return address >= image.virt_kstart && address < image.virt_kend;
}

struct PhysicalRange {
  uint64_t start = 0, end = 0;
};

// [lowest paddr, highest paddr + memsz) over the segments, as libelf's elf_parse_binary finds it.
PhysicalRange physical_range(const std::vector<LoadSegment>& segments) {
  PhysicalRange range{segments.front().paddr, 0};
  for (const auto& segment : segments) {
    range.start = std::min(range.start, segment.paddr);
    range.end = std::max(range.end, segment.paddr + segment.memsz);
  }
  if (range.end - range.start > kMaxKernelBytes) {
    throw ImageError("segments span " + to_hex(range.end - range.start) + " bytes from paddr " +
                     to_hex(range.start) + ", more than the limit of " + to_hex(kMaxKernelBytes));
  }
  return range;
}

// The kernel's virtual range and entry, as libelf's elf_xen_addr_calc_check computes them.
void place_kernel(KernelImage& image, uint64_t elf_entry) {
  const PhysicalRange range = physical_range(image.segments);
  image.virt_base = image.notes.virt_base.value();
  // libelf defaults PADDR_OFFSET to 0 for a kernel with ELF notes; only the legacy __xen_guest
  // section defaulted it to VIRT_BASE (elf_xen_addr_calc_check, libelf-dominfo.c).
  image.paddr_offset = image.notes.paddr_offset.value_or(0);
  image.virt_kstart = virtual_address(range.start, image.virt_base, image.paddr_offset);
  image.virt_kend = virtual_address(range.end, image.virt_base, image.paddr_offset);
  image.virt_entry = image.notes.entry.value_or(elf_entry);
}

// libelf's bounds checks on the placed kernel, and one for the hypercall page.
void check_kernel_addresses(const KernelImage& image) {
  if (image.virt_base > image.virt_kstart) {
    throw ImageError("VIRT_BASE " + to_hex(image.virt_base) + " lies above the kernel start " +
                     to_hex(image.virt_kstart));
  }
  if (!in_kernel(image, image.virt_entry)) {
    throw ImageError("entry point " + to_hex(image.virt_entry) +
                     " lies outside the loaded kernel " + range_text(image));
  }
  // The builder maps the initial P2M at INIT_P2M, so it must not land on the kernel.
  if (image.notes.init_p2m && in_kernel(image, *image.notes.init_p2m)) {
    throw ImageError("INIT_P2M " + to_hex(*image.notes.init_p2m) + " lies inside the kernel " +
                     range_text(image));
  }
  // The builder would write the hypercall page there, so it must be kernel memory.
  if (image.notes.hypercall_page && !in_kernel(image, *image.notes.hypercall_page)) {
    throw ImageError("HYPERCALL_PAGE " + to_hex(*image.notes.hypercall_page) +
                     " lies outside the loaded kernel " + range_text(image));
  }
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text() {
  return std::strerror(errno);
}

std::vector<uint8_t> read_kernel_file(const std::string& path) {
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw ImageError("cannot open: " + errno_text());
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) throw ImageError("cannot stat: " + errno_text());
  if (!S_ISREG(status.st_mode)) throw ImageError("not a regular file");
  const auto size = static_cast<uint64_t>(status.st_size);
  if (size > kMaxKernelFileBytes) {
    throw ImageError("file of " + to_hex(size) + " bytes is larger than the limit of " +
                     to_hex(kMaxKernelFileBytes));
  }

  std::vector<uint8_t> bytes(size);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t count = ::read(file.get(), bytes.data() + done, bytes.size() - done);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) throw ImageError("cannot read: " + errno_text());
    if (count == 0) break;  // the file shrank while we read it; parse what is there
    done += static_cast<size_t>(count);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

void KernelImage::copy_to(std::span<uint8_t> dest) const {
  if (dest.size() < loaded_size()) {
    throw xpv::Error("kernel copy: destination of " + to_hex(dest.size()) +
                     " bytes is smaller than the kernel's " + to_hex(loaded_size()));
  }
  // Zero first: bss (memsz past filesz), the gaps between segments and any tail stay zero.
  std::fill(dest.begin(), dest.end(), uint8_t{0});
  if (segments.empty()) return;
  const uint64_t pstart = segments.front().paddr;
  for (const auto& segment : segments) {
    std::memcpy(dest.data() + (segment.paddr - pstart), elf.data() + segment.file_offset,
                segment.filesz);
  }
}

KernelImage load_kernel_image(std::span<const uint8_t> file, XenFeatureSet features_xpv_provides) {
  auto unwrapped = unwrap_kernel(file);
  KernelImage image;
  image.elf = std::move(unwrapped.elf);
  image.format = std::move(unwrapped.format);

  const ElfImage elf(image.elf);
  image.segments = elf.load_segments();
  image.notes = read_xen_notes(elf);
  check_xen_notes(image.notes);
  check_required_features(image.notes, features_xpv_provides);
  place_kernel(image, elf.entry());
  check_kernel_addresses(image);
  return image;
}

KernelImage load_kernel_file(const std::string& path, XenFeatureSet features_xpv_provides) {
  try {
    return load_kernel_image(read_kernel_file(path), features_xpv_provides);
  } catch (const ImageError& error) {
    throw ImageError(path + ": " + error.what());
  }
}

}  // namespace xpv::domain
