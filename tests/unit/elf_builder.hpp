// Test-only: builds ELF64 kernels with chosen segments and Xen notes in memory, compresses them
// with each format a bzImage may use, and wraps them in a bzImage.
#pragma once

#include <asm/bootparam.h>
#include <bzlib.h>
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "domain/decompress.hpp"
#include "xen/abi.hpp"

namespace xpv::test {

using Bytes = std::vector<uint8_t>;

// Bytes that differ per segment and per offset, so a misplaced copy shows.
inline Bytes pattern(size_t size, uint8_t seed) {
  Bytes bytes(size);
  for (size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<uint8_t>(seed + i % 251);
  return bytes;
}

template <typename T>
Bytes bytes_of(const T& value, size_t size = sizeof(T)) {
  Bytes bytes(size);
  std::memcpy(bytes.data(), &value, std::min(size, sizeof(T)));
  return bytes;
}

inline Bytes text_bytes(std::string_view text, bool nul = true) {
  Bytes bytes(text.begin(), text.end());
  if (nul) bytes.push_back(0);
  return bytes;
}

struct SegmentSpec {
  uint64_t paddr = 0, vaddr = 0, memsz = 0;
  Bytes bytes;  // the file contents; memsz past them is bss
  uint32_t type = PT_LOAD, flags = PF_R | PF_X;
};

struct NoteSpec {
  std::string name;
  uint32_t type = 0;
  Bytes desc;
};

struct SectionSpec {
  std::string name;
  uint32_t type = SHT_PROGBITS;
  Bytes bytes;
};

// Debian 6.1's layout and notes (linux-pv-guest.md §1.2-1.3), scaled down.
inline constexpr uint64_t kVirtBase = 0xffffffff80000000;
inline constexpr uint64_t kTextPaddr = 0x1000000;
inline constexpr uint64_t kDataPaddr = 0x1200000;  // a gap after text
inline constexpr uint64_t kPercpuPaddr = 0x1400000;
inline constexpr uint64_t kInitPaddr = 0x1600000;
inline constexpr uint64_t kKernelEnd = kInitPaddr + 0x4000;
inline constexpr uint64_t kEntry = kVirtBase + kInitPaddr + 0x1c0;
inline constexpr uint64_t kInitP2m = 0x8000000000;

class ElfBuilder {
 public:
  static ElfBuilder linux_like() {
    ElfBuilder builder;
    builder.add_segment({kTextPaddr, kVirtBase + kTextPaddr, 0x3000, pattern(0x3000, 0x10)})
        .add_segment({kDataPaddr, kVirtBase + kDataPaddr, 0x1000, pattern(0x1000, 0x20), PT_LOAD,
                      PF_R | PF_W})
        // .data..percpu: vaddr 0, placed by paddr; memsz past the bytes is bss.
        .add_segment({kPercpuPaddr, 0, 0x1000, pattern(0x800, 0x30), PT_LOAD, PF_R | PF_W})
        .add_segment({kInitPaddr, kVirtBase + kInitPaddr, 0x4000, pattern(0x1000, 0x40), PT_LOAD,
                      PF_R | PF_W | PF_X})
        .elf_entry(kInitPaddr)  // Linux's e_entry is physical; the ENTRY note is what counts
        .xen_text(XEN_ELFNOTE_GUEST_OS, "linux")
        .xen_text(XEN_ELFNOTE_GUEST_VERSION, "2.6")
        .xen_text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
        .xen_number(XEN_ELFNOTE_VIRT_BASE, kVirtBase)
        .xen_number(XEN_ELFNOTE_PADDR_OFFSET, 0)
        .xen_number(XEN_ELFNOTE_INIT_P2M, kInitP2m)
        .xen_number(XEN_ELFNOTE_ENTRY, kEntry)
        // Linux's FEATURES desc has no NUL.
        .xen_note(XEN_ELFNOTE_FEATURES,
                  text_bytes("!writable_page_tables|pae_pgdir_above_4gb", false))
        .xen_number(XEN_ELFNOTE_SUPPORTED_FEATURES, 0x8801, 4)
        .xen_text(XEN_ELFNOTE_PAE_MODE, "yes")
        .xen_text(XEN_ELFNOTE_LOADER, "generic")
        .xen_note(XEN_ELFNOTE_L1_MFN_VALID, Bytes(16, 0))
        .xen_number(XEN_ELFNOTE_SUSPEND_CANCEL, 1, 4)
        .xen_number(XEN_ELFNOTE_MOD_START_PFN, 1, 4)
        .xen_number(XEN_ELFNOTE_HV_START_LOW, 0xffff800000000000)
        .note({"GNU", NT_GNU_BUILD_ID, pattern(20, 0x50)})
        .xen_number(XEN_ELFNOTE_PHYS32_ENTRY, kTextPaddr + 0x850);
    return builder;
  }

  ElfBuilder& add_segment(SegmentSpec segment) {
    segments_.push_back(std::move(segment));
    return *this;
  }
  ElfBuilder& clear_segments() {
    segments_.clear();
    return *this;
  }
  ElfBuilder& elf_entry(uint64_t entry) {
    entry_ = entry;
    return *this;
  }
  ElfBuilder& note(NoteSpec note) {
    notes_.push_back(std::move(note));
    return *this;
  }
  ElfBuilder& xen_note(uint32_t type, Bytes desc) { return note({"Xen", type, std::move(desc)}); }
  ElfBuilder& xen_text(uint32_t type, std::string_view text) {
    return xen_note(type, text_bytes(text));
  }
  ElfBuilder& xen_number(uint32_t type, uint64_t value, size_t size = 8) {
    return xen_note(type, bytes_of(value, size));
  }
  ElfBuilder& without_xen_note(uint32_t type) {
    std::erase_if(notes_, [&](const NoteSpec& n) { return n.name == "Xen" && n.type == type; });
    return *this;
  }
  ElfBuilder& clear_notes() {
    notes_.clear();
    return *this;
  }
  // Keeps the notes in the .notes section but drops the PT_NOTE program header.
  ElfBuilder& notes_in_section_only() {
    note_segment_ = false;
    return *this;
  }
  ElfBuilder& note_alignment(uint64_t alignment) {
    note_alignment_ = alignment;
    return *this;
  }
  ElfBuilder& add_section(SectionSpec section) {
    sections_.push_back(std::move(section));
    return *this;
  }

  Bytes build() const {
    Bytes out(sizeof(Elf64_Ehdr));
    const bool note_segment = note_segment_ && !notes_.empty();
    const size_t phnum = segments_.size() + (note_segment ? 1 : 0);
    const uint64_t phoff = out.size();
    out.resize(out.size() + phnum * sizeof(Elf64_Phdr));

    const Bytes notes = note_bytes();
    const uint64_t notes_offset = append(out, notes, 8);
    std::vector<Elf64_Phdr> phdrs;
    for (const auto& segment : segments_) {
      Elf64_Phdr phdr{};
      phdr.p_type = segment.type;
      phdr.p_flags = segment.flags;
      phdr.p_offset = append(out, segment.bytes, 16);
      phdr.p_vaddr = segment.vaddr;
      phdr.p_paddr = segment.paddr;
      phdr.p_filesz = segment.bytes.size();
      phdr.p_memsz = segment.memsz;
      phdr.p_align = 16;
      phdrs.push_back(phdr);
    }
    if (note_segment) {
      Elf64_Phdr phdr{};
      phdr.p_type = PT_NOTE;
      phdr.p_offset = notes_offset;
      phdr.p_filesz = notes.size();
      phdr.p_align = note_alignment_;
      phdrs.push_back(phdr);
    }
    for (size_t i = 0; i < phdrs.size(); ++i) {
      std::memcpy(out.data() + phoff + i * sizeof(Elf64_Phdr), &phdrs[i], sizeof(Elf64_Phdr));
    }

    const uint64_t shoff = append_sections(out, notes_offset, notes.size());
    Elf64_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = EM_X86_64;
    header.e_version = EV_CURRENT;
    header.e_entry = entry_;
    header.e_phoff = phnum ? phoff : 0;
    header.e_shoff = shoff;
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = static_cast<uint16_t>(phnum);
    header.e_shentsize = sizeof(Elf64_Shdr);
    header.e_shnum = static_cast<uint16_t>(2 + (notes_.empty() ? 0 : 1) + sections_.size());
    header.e_shstrndx = 1;
    std::memcpy(out.data(), &header, sizeof header);
    return out;
  }

 private:
  static uint64_t append(Bytes& out, const Bytes& bytes, size_t alignment) {
    out.resize((out.size() + alignment - 1) / alignment * alignment);
    const uint64_t offset = out.size();
    out.insert(out.end(), bytes.begin(), bytes.end());
    return offset;
  }

  Bytes note_bytes() const {
    Bytes out;
    for (const auto& note : notes_) {
      Elf64_Nhdr header{};
      header.n_namesz = static_cast<uint32_t>(note.name.size() + 1);
      header.n_descsz = static_cast<uint32_t>(note.desc.size());
      header.n_type = note.type;
      append(out, bytes_of(header), note_alignment_);
      append(out, text_bytes(note.name), 1);
      append(out, note.desc, note_alignment_);
    }
    out.resize((out.size() + note_alignment_ - 1) / note_alignment_ * note_alignment_);
    return out;
  }

  // Section 0 is null, 1 the name table, 2 ".notes" (when there are notes), then the extras.
  uint64_t append_sections(Bytes& out, uint64_t notes_offset, uint64_t notes_size) const {
    std::vector<Elf64_Shdr> shdrs(2);
    std::string names(1, '\0');
    auto add_name = [&](const std::string& name) {
      const auto offset = static_cast<uint32_t>(names.size());
      names += name + '\0';
      return offset;
    };
    shdrs[1].sh_type = SHT_STRTAB;
    shdrs[1].sh_name = add_name(".shstrtab");
    if (!notes_.empty()) {
      Elf64_Shdr notes{};
      notes.sh_type = SHT_NOTE;
      notes.sh_name = add_name(".notes");
      notes.sh_offset = notes_offset;
      notes.sh_size = notes_size;
      notes.sh_addralign = note_alignment_;
      shdrs.push_back(notes);
    }
    for (const auto& section : sections_) {
      Elf64_Shdr shdr{};
      shdr.sh_type = section.type;
      shdr.sh_name = add_name(section.name);
      shdr.sh_offset = append(out, section.bytes, 8);
      shdr.sh_size = section.bytes.size();
      shdrs.push_back(shdr);
    }
    shdrs[1].sh_offset = append(out, Bytes(names.begin(), names.end()), 1);
    shdrs[1].sh_size = names.size();
    Bytes table(shdrs.size() * sizeof(Elf64_Shdr));
    std::memcpy(table.data(), shdrs.data(), table.size());
    return append(out, table, 8);
  }

  std::vector<SegmentSpec> segments_;
  std::vector<NoteSpec> notes_;
  std::vector<SectionSpec> sections_;
  uint64_t entry_ = 0;
  uint64_t note_alignment_ = 4;
  bool note_segment_ = true;
};

// Rewrites a struct inside a built image, e.g. to corrupt a header field.
template <typename T, typename Edit>
void patch(Bytes& bytes, size_t offset, Edit edit) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  edit(value);
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
template <typename Edit>
void patch_header(Bytes& elf, Edit edit) {
  patch<Elf64_Ehdr>(elf, 0, edit);
}
template <typename Edit>
void patch_program_header(Bytes& elf, size_t index, Edit edit) {
  Elf64_Ehdr header{};
  std::memcpy(&header, elf.data(), sizeof header);
  patch<Elf64_Phdr>(elf, header.e_phoff + index * sizeof(Elf64_Phdr), edit);
}

// ---- compressors, as Linux's build invokes them (minus size_append) -------------------------

inline Bytes gzip_compress(std::span<const uint8_t> data) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  Bytes out(deflateBound(&stream, static_cast<uLong>(data.size())));
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

inline Bytes bzip2_compress(std::span<const uint8_t> data) {
  Bytes out(data.size() + data.size() / 100 + 600);
  auto size = static_cast<unsigned>(out.size());
  char nothing = 0;  // libbz2 refuses a null source even for zero bytes
  char* source =
      data.empty() ? &nothing : const_cast<char*>(reinterpret_cast<const char*>(data.data()));
  if (BZ2_bzBuffToBuffCompress(reinterpret_cast<char*>(out.data()), &size, source,
                               static_cast<unsigned>(data.size()), 9, 0, 0) != BZ_OK) {
    throw std::runtime_error("BZ2_bzBuffToBuffCompress");
  }
  out.resize(size);
  return out;
}

inline Bytes xz_compress(std::span<const uint8_t> data) {
  Bytes out(lzma_stream_buffer_bound(data.size()));
  size_t size = 0;
  if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, data.data(), data.size(), out.data(),
                              &size, out.size()) != LZMA_OK) {
    throw std::runtime_error("lzma_easy_buffer_encode");
  }
  out.resize(size);
  return out;
}

inline Bytes lzma_compress(std::span<const uint8_t> data) {
  lzma_options_lzma options{};
  lzma_lzma_preset(&options, 6);
  lzma_stream stream{};
  if (lzma_alone_encoder(&stream, &options) != LZMA_OK) {
    throw std::runtime_error("lzma_alone_encoder");
  }
  Bytes out(data.size() + data.size() / 2 + 1024);
  stream.next_in = data.data();
  stream.avail_in = data.size();
  stream.next_out = out.data();
  stream.avail_out = out.size();
  const lzma_ret result = lzma_code(&stream, LZMA_FINISH);
  out.resize(stream.total_out);
  lzma_end(&stream);
  if (result != LZMA_STREAM_END) throw std::runtime_error("lzma_code");
  return out;
}

inline Bytes zstd_compress(std::span<const uint8_t> data) {
  Bytes out(ZSTD_compressBound(data.size()));
  const size_t size = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19);
  if (ZSTD_isError(size)) throw std::runtime_error("ZSTD_compress");
  out.resize(size);
  return out;
}

inline constexpr uint32_t kLz4LegacyMagic = 0x184C2102;

// `lz4 -l`: magic, then {LE32 size, block} per `block_size` input bytes; optionally the magic
// again between blocks, as in concatenated frames.
inline Bytes lz4_legacy_compress(std::span<const uint8_t> data, size_t block_size = size_t{8} << 20,
                                 bool repeat_magic = false) {
  Bytes out = bytes_of(kLz4LegacyMagic);
  for (size_t offset = 0; offset < data.size(); offset += block_size) {
    if (repeat_magic && offset != 0) {
      const Bytes magic = bytes_of(kLz4LegacyMagic);
      out.insert(out.end(), magic.begin(), magic.end());
    }
    const size_t chunk = std::min(block_size, data.size() - offset);
    Bytes block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(chunk))));
    const int size = LZ4_compress_default(reinterpret_cast<const char*>(data.data() + offset),
                                          reinterpret_cast<char*>(block.data()),
                                          static_cast<int>(chunk), static_cast<int>(block.size()));
    if (size <= 0) throw std::runtime_error("LZ4_compress_default");
    const Bytes size_field = bytes_of(static_cast<uint32_t>(size));
    out.insert(out.end(), size_field.begin(), size_field.end());
    out.insert(out.end(), block.begin(), block.begin() + size);
  }
  return out;
}

inline Bytes compress(domain::Compression compression, std::span<const uint8_t> data) {
  switch (compression) {
    case domain::Compression::gzip:
      return gzip_compress(data);
    case domain::Compression::bzip2:
      return bzip2_compress(data);
    case domain::Compression::xz:
      return xz_compress(data);
    case domain::Compression::lzma:
      return lzma_compress(data);
    case domain::Compression::zstd:
      return zstd_compress(data);
    case domain::Compression::lz4_legacy:
      return lz4_legacy_compress(data);
  }
  throw std::logic_error("compression");
}

// ---- bzImage -------------------------------------------------------------------------------

inline constexpr size_t kSetupHeaderOffset = offsetof(boot_params, hdr);

// Linux's size_append: the payload ends with the LE32 decompressed size. gzip's own trailer
// already is that, so the build appends nothing to it.
inline Bytes linux_payload(domain::Compression compression, std::span<const uint8_t> elf) {
  Bytes payload = compress(compression, elf);
  if (compression != domain::Compression::gzip) {
    const Bytes size = bytes_of(static_cast<uint32_t>(elf.size()));
    payload.insert(payload.end(), size.begin(), size.end());
  }
  return payload;
}

struct BzImageLayout {
  uint8_t setup_sects = 3;
  uint16_t version = 0x020f;
  uint32_t payload_offset = 0x120;  // bytes of "decompressor" before the payload
  size_t trailing_bytes = 64;       // e.g. the appended EFI signature
};

inline Bytes wrap_in_bzimage(std::span<const uint8_t> payload, BzImageLayout layout = {}) {
  const size_t protected_mode_start = (layout.setup_sects + 1) * size_t{512};
  Bytes image(protected_mode_start + layout.payload_offset, 0x90);
  setup_header header{};
  header.setup_sects = layout.setup_sects;
  header.boot_flag = 0xaa55;
  std::memcpy(&header.header, "HdrS", 4);
  header.version = layout.version;
  header.payload_offset = layout.payload_offset;
  header.payload_length = static_cast<uint32_t>(payload.size());
  std::memcpy(image.data() + kSetupHeaderOffset, &header, sizeof header);
  image.insert(image.end(), payload.begin(), payload.end());
  image.insert(image.end(), layout.trailing_bytes, 0xee);
  return image;
}

inline Bytes make_bzimage(domain::Compression compression, std::span<const uint8_t> elf) {
  return wrap_in_bzimage(linux_payload(compression, elf));
}

// Edits the setup header of a built bzImage.
template <typename Edit>
void patch_setup_header(Bytes& image, Edit edit) {
  patch<setup_header>(image, kSetupHeaderOffset, edit);
}

}  // namespace xpv::test
