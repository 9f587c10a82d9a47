#include "domain/elf_image.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/elf_builder.hpp"
#include "xen/abi.hpp"

namespace xpv::domain {
namespace {

using test::Bytes;
using test::ElfBuilder;
using test::SegmentSpec;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string refusal(const Bytes& elf) {
  try {
    ElfImage image(elf);
    image.segment_notes();
  } catch (const ImageError& error) {
    return error.what();
  }
  return "accepted";
}

ElfBuilder one_segment() {
  return ElfBuilder().add_segment(
      {0x1000000, 0xffffffff81000000, 0x2000, test::pattern(0x1000, 1)});
}

// ---- header ---------------------------------------------------------------------------------

TEST(ElfImage, RecognisesTheMagic) {
  EXPECT_TRUE(has_elf_magic(one_segment().build()));
  EXPECT_FALSE(has_elf_magic(Bytes{0x7f, 'E', 'L'}));
  EXPECT_FALSE(has_elf_magic(Bytes{'M', 'Z', 0, 0}));
}

TEST(ElfImage, ReadsEntryAndSegments) {
  const Bytes bytes = ElfBuilder::linux_like().build();
  const ElfImage elf(bytes);
  EXPECT_EQ(elf.entry(), test::kInitPaddr);
  ASSERT_EQ(elf.load_segments().size(), 4u);
  const auto& text = elf.load_segments()[0];
  EXPECT_EQ(text.paddr, test::kTextPaddr);
  EXPECT_EQ(text.vaddr, test::kVirtBase + test::kTextPaddr);
  EXPECT_EQ(text.filesz, 0x3000u);
  EXPECT_EQ(text.memsz, 0x3000u);
  EXPECT_EQ(text.flags, static_cast<uint32_t>(PF_R | PF_X));
  EXPECT_EQ(
      0, std::memcmp(bytes.data() + text.file_offset, test::pattern(0x3000, 0x10).data(), 0x3000));
}

TEST(ElfImage, RefusesElf32) {
  Bytes elf = one_segment().build();
  elf[EI_CLASS] = ELFCLASS32;
  EXPECT_EQ(refusal(elf), "32-bit kernel: xpv runs 64-bit PV kernels only");
}

TEST(ElfImage, RefusesElf32EvenWhenShorterThanAnElf64Header) {
  Bytes elf = one_segment().build();
  elf[EI_CLASS] = ELFCLASS32;
  elf.resize(sizeof(Elf32_Ehdr));
  EXPECT_EQ(refusal(elf), "32-bit kernel: xpv runs 64-bit PV kernels only");
}

TEST(ElfImage, RefusesUnknownClass) {
  Bytes elf = one_segment().build();
  elf[EI_CLASS] = 7;
  EXPECT_EQ(refusal(elf), "ELF class 7 is neither 32- nor 64-bit");
}

TEST(ElfImage, RefusesBigEndian) {
  Bytes elf = one_segment().build();
  elf[EI_DATA] = ELFDATA2MSB;
  EXPECT_EQ(refusal(elf), "big-endian ELF: an x86-64 kernel is little-endian");
}

TEST(ElfImage, RefusesOtherMachine) {
  Bytes elf = one_segment().build();
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_machine = EM_AARCH64; });
  EXPECT_EQ(refusal(elf), "ELF machine 183 is not x86-64 (62)");
}

TEST(ElfImage, RefusesTruncatedHeader) {
  Bytes elf = one_segment().build();
  elf.resize(40);
  EXPECT_EQ(refusal(elf), "truncated ELF header: the file has 40 bytes, the header needs 64");
}

TEST(ElfImage, RefusesProgramHeadersPastTheEnd) {
  Bytes elf = one_segment().build();
  test::patch_header(elf, [&](Elf64_Ehdr& header) { header.e_phoff = elf.size() - 10; });
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF: program header table at"));
}

TEST(ElfImage, RefusesProgramHeaderOffsetThatWraps) {
  Bytes elf = one_segment().build();
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_phoff = ~uint64_t{0} - 8; });
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF: program header table"));
}

TEST(ElfImage, RefusesWrongProgramHeaderSize) {
  Bytes elf = one_segment().build();
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_phentsize = 32; });
  EXPECT_EQ(refusal(elf), "program header table entries are 32 bytes, expected 56");
}

TEST(ElfImage, RefusesSectionHeadersPastTheEnd) {
  Bytes elf = one_segment().build();
  test::patch_header(elf, [&](Elf64_Ehdr& header) { header.e_shoff = elf.size(); });
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF: section header table at"));
}

TEST(ElfImage, RefusesFileCutInsideASegment) {
  Bytes elf = ElfBuilder().add_segment({0x1000000, 0, 0x2000, test::pattern(0x1000, 1)}).build();
  // Section headers sit last; drop them, then cut into the segment.
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_shoff = header.e_shnum = 0; });
  const ElfImage whole(elf);
  elf.resize(whole.load_segments()[0].file_offset + 0x800);
  EXPECT_THAT(refusal(elf), HasSubstr("segment 0: file bytes at"));
  EXPECT_THAT(refusal(elf), HasSubstr("lie outside the"));
}

// ---- segments -------------------------------------------------------------------------------

TEST(ElfSegments, AreSortedByPaddrWhateverTheirVaddr) {
  const Bytes bytes = ElfBuilder()
                          .add_segment({0x3000000, 0, 0x1000, test::pattern(16, 1)})
                          .add_segment({0x1000000, 0xffffffff81000000, 0x1000, {}})
                          .add_segment({0x2000000, 0xffffffff82000000, 0x1000, {}})
                          .build();
  const ElfImage elf(bytes);
  ASSERT_EQ(elf.load_segments().size(), 3u);
  EXPECT_EQ(elf.load_segments()[0].paddr, 0x1000000u);
  EXPECT_EQ(elf.load_segments()[1].paddr, 0x2000000u);
  EXPECT_EQ(elf.load_segments()[2].paddr, 0x3000000u);
  EXPECT_EQ(elf.load_segments()[2].vaddr, 0u);
}

TEST(ElfSegments, SkipEmptyNonLoadAndPermissionlessSegments) {
  const Bytes bytes = one_segment()
                          .add_segment({0x5000000, 0, 0, {}})  // memsz 0
                          .add_segment({0x6000000, 0, 0x1000, {}, PT_GNU_STACK, PF_R | PF_W})
                          .add_segment({0x7000000, 0, 0x1000, {}, PT_LOAD, 0})
                          .build();
  const ElfImage elf(bytes);
  ASSERT_EQ(elf.load_segments().size(), 1u);
  EXPECT_EQ(elf.load_segments()[0].paddr, 0x1000000u);
}

TEST(ElfSegments, RefuseImageWithNothingToLoad) {
  EXPECT_EQ(refusal(ElfBuilder().add_segment({0x1000000, 0, 0, {}}).build()),
            "no loadable segments");
  EXPECT_EQ(refusal(ElfBuilder().build()), "no loadable segments");
}

TEST(ElfSegments, RefuseFileSizeAboveMemorySize) {
  Bytes elf = one_segment().build();
  test::patch_program_header(elf, 0, [](Elf64_Phdr& segment) { segment.p_memsz = 0x800; });
  EXPECT_EQ(refusal(elf), "segment 0: file size 0x1000 exceeds memory size 0x800");
}

TEST(ElfSegments, RefuseBytesOutsideTheFile) {
  Bytes elf = one_segment().build();
  test::patch_program_header(elf, 0, [](Elf64_Phdr& segment) { segment.p_offset = 0x7fffffff; });
  EXPECT_THAT(refusal(elf), StartsWith("segment 0: file bytes at 0x7fffffff of 0x1000 bytes lie "
                                       "outside the"));
}

TEST(ElfSegments, RefuseOffsetPlusSizeThatWraps) {
  Bytes elf = one_segment().build();
  test::patch_program_header(elf, 0,
                             [](Elf64_Phdr& segment) { segment.p_offset = ~uint64_t{0} - 0x10; });
  EXPECT_THAT(refusal(elf), StartsWith("segment 0: file bytes at"));
}

TEST(ElfSegments, RefusePaddrOverflow) {
  Bytes elf = one_segment().build();
  test::patch_program_header(elf, 0,
                             [](Elf64_Phdr& segment) { segment.p_paddr = 0xfffffffffffff000; });
  EXPECT_EQ(refusal(elf), "segment 0: paddr 0xfffffffffffff000 + memsz 0x2000 overflows 64 bits");
}

TEST(ElfSegments, RefuseVaddrOverflow) {
  Bytes elf = one_segment().build();
  test::patch_program_header(elf, 0,
                             [](Elf64_Phdr& segment) { segment.p_vaddr = 0xffffffffffffff00; });
  EXPECT_EQ(refusal(elf), "segment 0: vaddr 0xffffffffffffff00 + memsz 0x2000 overflows 64 bits");
}

TEST(ElfSegments, RefuseOverlapInPaddr) {
  const Bytes elf = ElfBuilder()
                        .add_segment({0x1000000, 0xffffffff81000000, 0x2000, {}})
                        .add_segment({0x1001000, 0xffffffff91000000, 0x1000, {}})
                        .build();
  EXPECT_EQ(refusal(elf),
            "segments overlap: paddr 0x1000000 of 0x2000 bytes runs into paddr 0x1001000");
}

TEST(ElfSegments, AllowTouchingSegments) {
  const Bytes bytes = ElfBuilder()
                          .add_segment({0x1000000, 0, 0x1000, {}})
                          .add_segment({0x1001000, 0, 0x1000, {}})
                          .build();
  EXPECT_EQ(ElfImage(bytes).load_segments().size(), 2u);
}

// ---- notes ----------------------------------------------------------------------------------

TEST(ElfNotes, WalksThePtNoteSegment) {
  const Bytes bytes = ElfBuilder::linux_like().build();
  const auto notes = ElfImage(bytes).segment_notes();
  ASSERT_EQ(notes.size(), 17u);
  EXPECT_EQ(notes[0].name, "Xen");
  EXPECT_EQ(notes[0].type, static_cast<uint32_t>(XEN_ELFNOTE_GUEST_OS));
  EXPECT_TRUE(std::ranges::equal(notes[0].desc, test::text_bytes("linux")));
  EXPECT_EQ(notes[15].name, "GNU");
  EXPECT_EQ(notes[15].desc.size(), 20u);
}

TEST(ElfNotes, ReadsNameAndDescAtEightByteAlignment) {
  const Bytes bytes = one_segment()
                          .note_alignment(8)
                          .xen_number(XEN_ELFNOTE_VIRT_BASE, 0x1122334455667788)
                          .note({"LongerName", 7, Bytes{1, 2, 3}})
                          .xen_text(XEN_ELFNOTE_GUEST_OS, "linux")
                          .build();
  const auto notes = ElfImage(bytes).segment_notes();
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[1].name, "LongerName");
  EXPECT_EQ(notes[1].desc.size(), 3u);
  EXPECT_EQ(notes[2].type, static_cast<uint32_t>(XEN_ELFNOTE_GUEST_OS));
}

TEST(ElfNotes, SkipsANoteSegmentAtOffsetZeroAsLibelfDoes) {
  Bytes elf = one_segment().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  test::patch_program_header(elf, 1, [](Elf64_Phdr& segment) { segment.p_offset = 0; });
  EXPECT_TRUE(ElfImage(elf).segment_notes().empty());
}

TEST(ElfNotes, RefusesNoteRunningPastItsSegment) {
  Bytes elf = one_segment().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  test::patch_program_header(elf, 1, [](Elf64_Phdr& segment) { segment.p_filesz -= 4; });
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF note at offset 0x0 of PT_NOTE segment 1"));
}

TEST(ElfNotes, RefusesPartialNoteHeader) {
  Bytes elf = one_segment().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  test::patch_program_header(elf, 1, [](Elf64_Phdr& segment) { segment.p_filesz = 8; });
  EXPECT_EQ(refusal(elf), "truncated ELF note header at offset 0x0 of PT_NOTE segment 1");
}

TEST(ElfNotes, RefusesHugeDescSize) {
  Bytes elf = one_segment().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  Elf64_Phdr note_segment{};
  std::memcpy(&note_segment, elf.data() + sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr),
              sizeof note_segment);
  test::patch<Elf64_Nhdr>(elf, note_segment.p_offset,
                          [](Elf64_Nhdr& note) { note.n_descsz = 0xffffffff; });
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF note at offset 0x0"));
}

TEST(ElfNotes, RefusesNoteSegmentOutsideTheFile) {
  Bytes elf = one_segment().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  test::patch_program_header(elf, 1, [](Elf64_Phdr& segment) { segment.p_filesz = 1 << 30; });
  EXPECT_EQ(refusal(elf), "truncated ELF: PT_NOTE segment 1 lies outside the file");
}

TEST(ElfNotes, AreAlsoFoundInNoteSections) {
  const Bytes bytes =
      one_segment().notes_in_section_only().xen_text(XEN_ELFNOTE_GUEST_OS, "linux").build();
  const ElfImage elf(bytes);
  EXPECT_TRUE(elf.segment_notes().empty());
  const auto notes = elf.section_notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].name, "Xen");
}

TEST(ElfSections, AreFoundByName) {
  const Bytes bytes =
      one_segment()
          .add_section({"__xen_guest", SHT_PROGBITS, test::text_bytes("GUEST_OS=linux")})
          .build();
  const ElfImage elf(bytes);
  EXPECT_TRUE(elf.has_section("__xen_guest"));
  EXPECT_TRUE(elf.has_section(".shstrtab"));
  EXPECT_FALSE(elf.has_section("__xen"));
}

TEST(ElfSections, BadNameTableMeansNoNames) {
  Bytes elf = one_segment().add_section({"__xen_guest", SHT_PROGBITS, {}}).build();
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_shstrndx = 99; });
  EXPECT_FALSE(ElfImage(elf).has_section("__xen_guest"));
}

}  // namespace
}  // namespace xpv::domain
