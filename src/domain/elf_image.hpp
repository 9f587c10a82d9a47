// A validated, read-only view of a 64-bit little-endian x86-64 ELF executable: its loadable
// segments and its notes. Every offset and size read from the file is checked against the file
// before use, since the image is untrusted input.
#pragma once

#include <elf.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "domain/kernel_image.hpp"

namespace xpv::domain {

// One ELF note; name and desc view the image's bytes.
struct ElfNote {
  std::string_view name;  // without the terminating NUL
  uint32_t type = 0;
  std::span<const uint8_t> desc;
};

bool has_elf_magic(std::span<const uint8_t> bytes);

class ElfImage {
 public:
  // Checks the ELF header, the program and section header tables and every loadable segment;
  // throws ImageError. Keeps a view of `bytes`, which must outlive this object.
  explicit ElfImage(std::span<const uint8_t> bytes);

  uint64_t entry() const { return header_.e_entry; }

  // PT_LOAD segments that occupy memory, sorted by paddr. They lie inside the file, have
  // filesz <= memsz, do not overflow in paddr or vaddr, and do not overlap in paddr.
  const std::vector<LoadSegment>& load_segments() const { return segments_; }

  // Notes of the PT_NOTE segments, and of the SHT_NOTE sections (libelf's fallback when the
  // segments hold no Xen note). Throws ImageError on a note that runs past its container.
  std::vector<ElfNote> segment_notes() const;
  std::vector<ElfNote> section_notes() const;

  bool has_section(std::string_view name) const;

 private:
  void read_header();
  void read_program_headers();
  void read_section_headers();
  void collect_load_segments();
  std::string_view section_name(const Elf64_Shdr& section) const;

  std::span<const uint8_t> bytes_;
  Elf64_Ehdr header_{};
  std::vector<Elf64_Phdr> program_headers_;
  std::vector<Elf64_Shdr> section_headers_;
  std::vector<LoadSegment> segments_;
};

}  // namespace xpv::domain
