#include "domain/elf_image.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace xpv::domain {
namespace {

// [offset, offset + size) lies inside a buffer of `limit` bytes, without overflowing.
bool fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

template <typename T>
T read_struct(std::span<const uint8_t> bytes, uint64_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// Reads `count` entries of T at `offset`, after checking the table's entry size and bounds.
template <typename T>
std::vector<T> read_table(std::span<const uint8_t> bytes, uint64_t offset, uint64_t count,
                          uint64_t entry_size, const std::string& what) {
  if (count == 0) return {};
  if (entry_size != sizeof(T)) {
    throw ImageError(what + " entries are " + std::to_string(entry_size) + " bytes, expected " +
                     std::to_string(sizeof(T)));
  }
  // count and entry_size come from 16-bit fields, so the product cannot overflow.
  if (!fits(offset, count * entry_size, bytes.size())) {
    throw ImageError("truncated ELF: " + what + " at " + to_hex(offset) + " of " +
                     std::to_string(count) + " entries runs past the " + to_hex(bytes.size()) +
                     "-byte file");
  }
  std::vector<T> table;
  table.reserve(count);
  for (uint64_t index = 0; index < count; ++index) {
    table.push_back(read_struct<T>(bytes, offset + index * entry_size));
  }
  return table;
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

// Notes are padded to 4 bytes, except in containers aligned to 8 (as readelf reads them).
uint64_t note_alignment(uint64_t container_alignment) {
  return container_alignment == 8 ? 8 : 4;
}

std::string_view up_to_nul(std::span<const uint8_t> bytes) {
  const auto* chars = reinterpret_cast<const char*>(bytes.data());
  return {chars, strnlen(chars, bytes.size())};
}

// Walks the notes of one PT_NOTE segment or SHT_NOTE section.
void walk_notes(std::span<const uint8_t> area, uint64_t alignment, const std::string& where,
                std::vector<ElfNote>& notes) {
  uint64_t position = 0;
  while (position < area.size()) {
    if (area.size() - position < sizeof(Elf64_Nhdr)) {
      throw ImageError("truncated ELF note header at offset " + to_hex(position) + " of " + where);
    }
    const auto header = read_struct<Elf64_Nhdr>(area, position);
    const uint64_t name_start = position + sizeof header;
    const uint64_t desc_start = align_up(name_start + header.n_namesz, alignment);
    const uint64_t desc_end = desc_start + header.n_descsz;
    if (desc_end > area.size()) {
      throw ImageError("truncated ELF note at offset " + to_hex(position) + " of " + where +
                       ": name " + std::to_string(header.n_namesz) + " and desc " +
                       std::to_string(header.n_descsz) + " bytes run past its end");
    }
    notes.push_back({up_to_nul(area.subspan(name_start, header.n_namesz)), header.n_type,
                     area.subspan(desc_start, header.n_descsz)});
    position = align_up(desc_end, alignment);
  }
}

void check_load_segment(const Elf64_Phdr& segment, size_t index, uint64_t file_size) {
  const std::string name = "segment " + std::to_string(index);
  if (segment.p_filesz > segment.p_memsz) {
    throw ImageError(name + ": file size " + to_hex(segment.p_filesz) + " exceeds memory size " +
                     to_hex(segment.p_memsz));
  }
  if (!fits(segment.p_offset, segment.p_filesz, file_size)) {
    throw ImageError(name + ": file bytes at " + to_hex(segment.p_offset) + " of " +
                     to_hex(segment.p_filesz) + " bytes lie outside the " + to_hex(file_size) +
                     "-byte file");
  }
  uint64_t end = 0;
  if (__builtin_add_overflow(segment.p_paddr, segment.p_memsz, &end)) {
    throw ImageError(name + ": paddr " + to_hex(segment.p_paddr) + " + memsz " +
                     to_hex(segment.p_memsz) + " overflows 64 bits");
  }
  if (__builtin_add_overflow(segment.p_vaddr, segment.p_memsz, &end)) {
    throw ImageError(name + ": vaddr " + to_hex(segment.p_vaddr) + " + memsz " +
                     to_hex(segment.p_memsz) + " overflows 64 bits");
  }
}

void check_no_overlap(const std::vector<LoadSegment>& by_paddr) {
  for (size_t index = 1; index < by_paddr.size(); ++index) {
    const auto& lower = by_paddr[index - 1];
    const auto& upper = by_paddr[index];
    if (lower.paddr + lower.memsz > upper.paddr) {
      throw ImageError("segments overlap: paddr " + to_hex(lower.paddr) + " of " +
                       to_hex(lower.memsz) + " bytes runs into paddr " + to_hex(upper.paddr));
    }
  }
}

}  // namespace

bool has_elf_magic(std::span<const uint8_t> bytes) {
  return bytes.size() >= SELFMAG && std::memcmp(bytes.data(), ELFMAG, SELFMAG) == 0;
}

ElfImage::ElfImage(std::span<const uint8_t> bytes) : bytes_(bytes) {
  read_header();
  read_program_headers();
  read_section_headers();
  collect_load_segments();
}

void ElfImage::read_header() {
  if (!has_elf_magic(bytes_)) throw ImageError("not an ELF image: bad magic");
  if (bytes_.size() < EI_NIDENT) throw ImageError("truncated ELF header: only the magic is there");
  const uint8_t elf_class = bytes_[EI_CLASS];
  if (elf_class == ELFCLASS32) throw ImageError("32-bit kernel: xpv runs 64-bit PV kernels only");
  if (elf_class != ELFCLASS64) {
    throw ImageError("ELF class " + std::to_string(elf_class) + " is neither 32- nor 64-bit");
  }
  if (bytes_[EI_DATA] != ELFDATA2LSB) {
    throw ImageError("big-endian ELF: an x86-64 kernel is little-endian");
  }
  if (bytes_.size() < sizeof(Elf64_Ehdr)) {
    throw ImageError("truncated ELF header: the file has " + std::to_string(bytes_.size()) +
                     " bytes, the header needs " + std::to_string(sizeof(Elf64_Ehdr)));
  }
  header_ = read_struct<Elf64_Ehdr>(bytes_, 0);
  if (header_.e_machine != EM_X86_64) {
    throw ImageError("ELF machine " + std::to_string(header_.e_machine) + " is not x86-64 (" +
                     std::to_string(EM_X86_64) + ")");
  }
}

void ElfImage::read_program_headers() {
  // PN_XNUM moves the count into section 0; no kernel has that many program headers.
  if (header_.e_phnum == PN_XNUM) throw ImageError("too many program headers (PN_XNUM)");
  program_headers_ = read_table<Elf64_Phdr>(bytes_, header_.e_phoff, header_.e_phnum,
                                            header_.e_phentsize, "program header table");
}

void ElfImage::read_section_headers() {
  // Sections are not needed to load a kernel, but libelf refuses a section header table that
  // lies outside the file (elf_init), and a file cut short is best reported as such.
  section_headers_ = read_table<Elf64_Shdr>(bytes_, header_.e_shoff, header_.e_shnum,
                                            header_.e_shentsize, "section header table");
}

void ElfImage::collect_load_segments() {
  for (size_t index = 0; index < program_headers_.size(); ++index) {
    const auto& segment = program_headers_[index];
    // libelf loads only PT_LOAD segments with some permission (elf_phdr_is_loadable); one that
    // occupies no memory has nothing to load.
    if (segment.p_type != PT_LOAD || (segment.p_flags & (PF_R | PF_W | PF_X)) == 0 ||
        segment.p_memsz == 0) {
      continue;
    }
    check_load_segment(segment, index, bytes_.size());
    segments_.push_back({segment.p_paddr, segment.p_vaddr, segment.p_filesz, segment.p_memsz,
                         segment.p_offset, segment.p_flags});
  }
  if (segments_.empty()) throw ImageError("no loadable segments");
  std::sort(segments_.begin(), segments_.end(),
            [](const LoadSegment& a, const LoadSegment& b) { return a.paddr < b.paddr; });
  check_no_overlap(segments_);
}

std::vector<ElfNote> ElfImage::segment_notes() const {
  std::vector<ElfNote> notes;
  for (size_t index = 0; index < program_headers_.size(); ++index) {
    const auto& segment = program_headers_[index];
    // libelf skips a note segment at offset 0: some binutils leave p_offset unset for it.
    if (segment.p_type != PT_NOTE || segment.p_offset == 0) continue;
    const std::string where = "PT_NOTE segment " + std::to_string(index);
    if (!fits(segment.p_offset, segment.p_filesz, bytes_.size())) {
      throw ImageError("truncated ELF: " + where + " lies outside the file");
    }
    walk_notes(bytes_.subspan(segment.p_offset, segment.p_filesz), note_alignment(segment.p_align),
               where, notes);
  }
  return notes;
}

std::vector<ElfNote> ElfImage::section_notes() const {
  std::vector<ElfNote> notes;
  for (const auto& section : section_headers_) {
    if (section.sh_type != SHT_NOTE) continue;
    const std::string where = "note section \"" + std::string(section_name(section)) + "\"";
    if (!fits(section.sh_offset, section.sh_size, bytes_.size())) {
      throw ImageError("truncated ELF: " + where + " lies outside the file");
    }
    walk_notes(bytes_.subspan(section.sh_offset, section.sh_size),
               note_alignment(section.sh_addralign), where, notes);
  }
  return notes;
}

bool ElfImage::has_section(std::string_view name) const {
  return std::any_of(section_headers_.begin(), section_headers_.end(),
                     [&](const Elf64_Shdr& section) { return section_name(section) == name; });
}

// The section's name from the section name string table, or "" if that table is unusable.
std::string_view ElfImage::section_name(const Elf64_Shdr& section) const {
  const size_t table_index = header_.e_shstrndx;
  if (table_index == SHN_UNDEF || table_index >= section_headers_.size()) return {};
  const auto& table = section_headers_[table_index];
  if (!fits(table.sh_offset, table.sh_size, bytes_.size()) || section.sh_name >= table.sh_size) {
    return {};
  }
  return up_to_nul(
      bytes_.subspan(table.sh_offset + section.sh_name, table.sh_size - section.sh_name));
}

}  // namespace xpv::domain
