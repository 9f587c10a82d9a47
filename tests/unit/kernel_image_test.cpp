#include "domain/kernel_image.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "unit/elf_builder.hpp"
#include "xen/abi.hpp"

namespace xpv::domain {
namespace {

using test::Bytes;
using test::ElfBuilder;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr XenFeatureSet kXpvFeatures{1U << XENFEAT_writable_page_tables};

std::string refusal(std::span<const uint8_t> file, XenFeatureSet provided = kXpvFeatures) {
  try {
    load_kernel_image(file, provided);
  } catch (const ImageError& error) {
    return error.what();
  }
  return "accepted";
}

std::string refusal(const ElfBuilder& builder) {
  return refusal(builder.build());
}

// ---- a plain ELF ----------------------------------------------------------------------------

TEST(KernelImage, LoadsALinuxLikeElf) {
  const Bytes elf = ElfBuilder::linux_like().build();
  const KernelImage image = load_kernel_image(elf, kXpvFeatures);
  EXPECT_EQ(image.format, "ELF");
  EXPECT_EQ(image.elf, elf);
  EXPECT_EQ(image.segments.size(), 4u);
  EXPECT_EQ(image.virt_base, test::kVirtBase);
  EXPECT_EQ(image.paddr_offset, 0u);
  EXPECT_EQ(image.virt_kstart, test::kVirtBase + test::kTextPaddr);
  EXPECT_EQ(image.virt_kend, test::kVirtBase + test::kKernelEnd);
  EXPECT_EQ(image.loaded_size(), test::kKernelEnd - test::kTextPaddr);
  EXPECT_EQ(image.virt_entry, test::kEntry);
  EXPECT_EQ(image.notes.init_p2m, test::kInitP2m);
  EXPECT_TRUE(image.notes.mod_start_pfn);
  EXPECT_EQ(image.notes.required, kXpvFeatures);
}

TEST(KernelImage, PlacesSegmentsByPaddrNotVaddr) {
  const KernelImage image = load_kernel_image(ElfBuilder::linux_like().build(), kXpvFeatures);
  const auto percpu = std::find_if(image.segments.begin(), image.segments.end(),
                                   [](const LoadSegment& segment) { return segment.vaddr == 0; });
  ASSERT_NE(percpu, image.segments.end());
  EXPECT_EQ(percpu->paddr, test::kPercpuPaddr);

  Bytes memory(image.loaded_size(), 0x77);
  image.copy_to(memory);
  const auto percpu_bytes = std::span(memory).subspan(test::kPercpuPaddr - test::kTextPaddr, 0x800);
  EXPECT_TRUE(std::ranges::equal(percpu_bytes, test::pattern(0x800, 0x30)));
}

TEST(KernelImage, CopyZeroesBssGapsAndTail) {
  const KernelImage image = load_kernel_image(ElfBuilder::linux_like().build(), kXpvFeatures);
  Bytes memory(image.loaded_size() + 0x1000, 0x77);
  image.copy_to(memory);

  // The bytes of guest-physical [start, end).
  auto range = [&](uint64_t start, uint64_t end) {
    return std::span(memory).subspan(start - test::kTextPaddr, end - start);
  };
  auto all_zero = [](std::span<const uint8_t> bytes) {
    return std::ranges::all_of(bytes, [](uint8_t byte) { return byte == 0; });
  };
  const uint64_t memory_end = test::kTextPaddr + memory.size();
  EXPECT_TRUE(std::ranges::equal(range(test::kTextPaddr, test::kTextPaddr + 0x3000),
                                 test::pattern(0x3000, 0x10)));
  EXPECT_TRUE(all_zero(range(test::kTextPaddr + 0x3000, test::kDataPaddr)));  // gap
  EXPECT_TRUE(std::ranges::equal(range(test::kDataPaddr, test::kDataPaddr + 0x1000),
                                 test::pattern(0x1000, 0x20)));
  EXPECT_TRUE(all_zero(range(test::kPercpuPaddr + 0x800, test::kPercpuPaddr + 0x1000)));  // bss
  EXPECT_TRUE(std::ranges::equal(range(test::kInitPaddr, test::kInitPaddr + 0x1000),
                                 test::pattern(0x1000, 0x40)));
  EXPECT_TRUE(all_zero(range(test::kInitPaddr + 0x1000, memory_end)));  // bss and tail
}

TEST(KernelImage, CopyRefusesATooSmallDestination) {
  const KernelImage image = load_kernel_image(ElfBuilder::linux_like().build(), kXpvFeatures);
  Bytes memory(image.loaded_size() - 1);
  EXPECT_THROW(image.copy_to(memory), xpv::Error);
}

TEST(KernelImage, EntryFallsBackToElfEntry) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_ENTRY)
                           .elf_entry(test::kVirtBase + test::kTextPaddr + 0x40);
  const KernelImage image = load_kernel_image(builder.build(), kXpvFeatures);
  EXPECT_EQ(image.virt_entry, test::kVirtBase + test::kTextPaddr + 0x40);
}

TEST(KernelImage, PaddrOffsetDefaultsToZeroAsInLibelf) {
  const auto builder = ElfBuilder::linux_like().without_xen_note(XEN_ELFNOTE_PADDR_OFFSET);
  const KernelImage image = load_kernel_image(builder.build(), kXpvFeatures);
  EXPECT_FALSE(image.notes.paddr_offset);
  EXPECT_EQ(image.paddr_offset, 0u);
  EXPECT_EQ(image.virt_kstart, test::kVirtBase + test::kTextPaddr);
}

TEST(KernelImage, PaddrOffsetShiftsTheKernel) {
  // Older kernels put virtual addresses in p_paddr and set PADDR_OFFSET to VIRT_BASE.
  const auto builder =
      ElfBuilder()
          .add_segment({test::kVirtBase + 0x1000000, test::kVirtBase + 0x1000000, 0x2000, {}})
          .xen_text(XEN_ELFNOTE_GUEST_OS, "linux")
          .xen_text(XEN_ELFNOTE_XEN_VERSION, "xen-3.0")
          .xen_number(XEN_ELFNOTE_VIRT_BASE, test::kVirtBase)
          .xen_number(XEN_ELFNOTE_PADDR_OFFSET, test::kVirtBase)
          .elf_entry(test::kVirtBase + 0x1000000);
  const KernelImage image = load_kernel_image(builder.build(), {});
  EXPECT_EQ(image.virt_kstart, test::kVirtBase + 0x1000000);
  EXPECT_EQ(image.virt_kend, test::kVirtBase + 0x1002000);
}

TEST(KernelImage, UsesNoteSectionsWhenNoSegmentHasXenNotes) {
  const KernelImage image =
      load_kernel_image(ElfBuilder::linux_like().notes_in_section_only().build(), kXpvFeatures);
  EXPECT_EQ(image.notes.virt_base, test::kVirtBase);
}

// ---- refusals: what the file is -------------------------------------------------------------

TEST(KernelImage, RefusesSomethingElse) {
  EXPECT_EQ(refusal(Bytes(4096, 0)), "not a kernel image: no ELF or bzImage header");
  EXPECT_EQ(refusal(Bytes{}), "not a kernel image: no ELF or bzImage header");
  EXPECT_EQ(refusal(test::text_bytes("#!/bin/sh\necho hello\n")),
            "not a kernel image: no ELF or bzImage header");
}

TEST(KernelImage, RefusesElf32) {
  Bytes elf = ElfBuilder::linux_like().build();
  elf[EI_CLASS] = ELFCLASS32;
  EXPECT_EQ(refusal(elf), "32-bit kernel: xpv runs 64-bit PV kernels only");
}

TEST(KernelImage, RefusesOtherMachine) {
  Bytes elf = ElfBuilder::linux_like().build();
  test::patch_header(elf, [](Elf64_Ehdr& header) { header.e_machine = EM_386; });
  EXPECT_THAT(refusal(elf), HasSubstr("is not x86-64"));
}

TEST(KernelImage, RefusesTruncatedElf) {
  Bytes elf = ElfBuilder::linux_like().build();
  elf.resize(elf.size() / 2);
  EXPECT_THAT(refusal(elf), StartsWith("truncated ELF: section header table"));
}

// ---- refusals: the Xen notes ----------------------------------------------------------------

TEST(KernelImage, RefusesElfWithoutXenNotes) {
  EXPECT_EQ(refusal(ElfBuilder::linux_like().clear_notes()),
            "no Xen ELF notes: not a Xen PV kernel");
}

TEST(KernelImage, RefusesPvhOnlyKernel) {
  const auto builder = ElfBuilder::linux_like().clear_notes().xen_number(XEN_ELFNOTE_PHYS32_ENTRY,
                                                                         test::kTextPaddr, 4);
  EXPECT_THAT(refusal(builder), StartsWith("PVH/HVM-only kernel"));
}

TEST(KernelImage, RefusesLegacyXenGuestSection) {
  const auto builder = ElfBuilder::linux_like().clear_notes().add_section(
      {"__xen_guest", SHT_PROGBITS, test::text_bytes("GUEST_OS=linux,XEN_VER=xen-3.0")});
  EXPECT_THAT(refusal(builder), StartsWith("legacy __xen_guest section"));
}

TEST(KernelImage, RefusesWrongXenVersion) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_XEN_VERSION)
                           .xen_text(XEN_ELFNOTE_XEN_VERSION, "xen-4.0");
  EXPECT_EQ(refusal(builder), "XEN_VERSION is \"xen-4.0\", not \"xen-3.0\"");
}

TEST(KernelImage, RefusesNeitherLinuxNorGeneric) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_GUEST_OS)
                           .without_xen_note(XEN_ELFNOTE_LOADER);
  EXPECT_THAT(refusal(builder), StartsWith("Xen notes name neither GUEST_OS \"linux\""));
}

TEST(KernelImage, AcceptsGenericLoaderAlone) {
  const auto builder = ElfBuilder::linux_like().without_xen_note(XEN_ELFNOTE_GUEST_OS);
  EXPECT_EQ(refusal(builder), "accepted");
}

TEST(KernelImage, RefusesMissingVirtBase) {
  EXPECT_EQ(refusal(ElfBuilder::linux_like().without_xen_note(XEN_ELFNOTE_VIRT_BASE)),
            "no VIRT_BASE note");
}

TEST(KernelImage, RefusesUnknownRequiredFeature) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_FEATURES)
                           .xen_text(XEN_ELFNOTE_FEATURES, "!writable_page_tables|!time_travel");
  EXPECT_EQ(refusal(builder), "FEATURES requires unknown Xen feature \"time_travel\"");
}

TEST(KernelImage, RefusesAndNamesARequiredFeatureXpvLacks) {
  EXPECT_EQ(refusal(ElfBuilder::linux_like().build(), XenFeatureSet{}),
            "kernel requires Xen features xpv does not provide: writable_page_tables");
}

TEST(KernelImage, RefusesDom0Kernel) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_FEATURES)
                           .xen_text(XEN_ELFNOTE_FEATURES, "!writable_page_tables|!dom0");
  EXPECT_THAT(
      refusal(builder.build(), XenFeatureSet().set().reset(XENFEAT_auto_translated_physmap)),
      StartsWith("kernel requires dom0"));
}

TEST(KernelImage, RefusesAutoTranslatedKernel) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_FEATURES)
                           .xen_text(XEN_ELFNOTE_FEATURES, "!auto_translated_physmap");
  EXPECT_THAT(refusal(builder.build(), XenFeatureSet().set()),
              StartsWith("kernel requires auto_translated_physmap"));
}

// ---- refusals: layout -----------------------------------------------------------------------

TEST(KernelImage, RefusesEntryOutsideTheKernel) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_ENTRY)
                           .xen_number(XEN_ELFNOTE_ENTRY, test::kVirtBase + test::kKernelEnd);
  EXPECT_EQ(refusal(builder),
            "entry point 0xffffffff81604000 lies outside the loaded kernel "
            "[0xffffffff81000000, 0xffffffff81604000)");
}

TEST(KernelImage, RefusesPhysicalElfEntryWithoutEntryNote) {
  // Linux's e_entry is physical: without the ENTRY note it is not inside the kernel.
  EXPECT_THAT(refusal(ElfBuilder::linux_like().without_xen_note(XEN_ELFNOTE_ENTRY)),
              StartsWith("entry point 0x1600000 lies outside"));
}

TEST(KernelImage, RefusesOverlappingSegments) {
  const auto builder = ElfBuilder::linux_like().add_segment(
      {test::kDataPaddr + 0x800, test::kVirtBase + 0x5000000, 0x1000, {}});
  EXPECT_THAT(refusal(builder), StartsWith("segments overlap"));
}

TEST(KernelImage, RefusesMoreThanOneGibOfSegments) {
  const auto builder = ElfBuilder::linux_like().add_segment(
      {test::kTextPaddr + (uint64_t{1} << 30), test::kVirtBase + 0x50000000, 0x1000, {}});
  EXPECT_THAT(refusal(builder), StartsWith("segments span 0x40001000 bytes from paddr 0x1000000, "
                                           "more than the limit of 0x40000000"));
}

TEST(KernelImage, RefusesOneHugeSegment) {
  const auto builder = ElfBuilder::linux_like().add_segment({0x10000000, 0, uint64_t{2} << 30, {}});
  EXPECT_THAT(refusal(builder), StartsWith("segments span"));
}

TEST(KernelImage, RefusesVirtualRangeThatWraps) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_VIRT_BASE)
                           .xen_number(XEN_ELFNOTE_VIRT_BASE, 0xffffffffff000000);
  EXPECT_THAT(refusal(builder), HasSubstr("leaves the 64-bit address space"));
}

TEST(KernelImage, RefusesPaddrOffsetBeyondThePaddrs) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_PADDR_OFFSET)
                           .xen_number(XEN_ELFNOTE_PADDR_OFFSET, test::kVirtBase + 0x10000000);
  EXPECT_THAT(refusal(builder), HasSubstr("leaves the 64-bit address space"));
}

TEST(KernelImage, RefusesVirtBaseAboveTheKernel) {
  // PADDR_OFFSET larger than the lowest paddr puts the kernel below VIRT_BASE.
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_PADDR_OFFSET)
                           .xen_number(XEN_ELFNOTE_PADDR_OFFSET, test::kTextPaddr + 0x1000);
  EXPECT_THAT(refusal(builder), StartsWith("VIRT_BASE 0xffffffff80000000 lies above the kernel"));
}

TEST(KernelImage, RefusesInitP2mInsideTheKernel) {
  const auto builder = ElfBuilder::linux_like()
                           .without_xen_note(XEN_ELFNOTE_INIT_P2M)
                           .xen_number(XEN_ELFNOTE_INIT_P2M, test::kVirtBase + test::kDataPaddr);
  EXPECT_THAT(refusal(builder), StartsWith("INIT_P2M 0xffffffff81200000 lies inside the kernel"));
}

TEST(KernelImage, RefusesHypercallPageOutsideTheKernel) {
  const auto builder =
      ElfBuilder::linux_like().xen_number(XEN_ELFNOTE_HYPERCALL_PAGE, test::kVirtBase);
  EXPECT_THAT(refusal(builder), StartsWith("HYPERCALL_PAGE 0xffffffff80000000 lies outside"));
}

// ---- bzImage --------------------------------------------------------------------------------

class BzImage : public ::testing::TestWithParam<Compression> {};

INSTANTIATE_TEST_SUITE_P(KernelImage, BzImage,
                         ::testing::Values(Compression::gzip, Compression::bzip2, Compression::xz,
                                           Compression::lzma, Compression::zstd,
                                           Compression::lz4_legacy),
                         [](const auto& param_info) {
                           return std::string(compression_name(param_info.param));
                         });

TEST_P(BzImage, UnwrapsTheElf) {
  const Bytes elf = ElfBuilder::linux_like().build();
  const KernelImage image = load_kernel_image(test::make_bzimage(GetParam(), elf), kXpvFeatures);
  EXPECT_EQ(image.format, "bzImage (" + std::string(compression_name(GetParam())) + ")");
  EXPECT_EQ(image.elf, elf);
  EXPECT_EQ(image.virt_entry, test::kEntry);
}

TEST_P(BzImage, RefusesCorruptPayload) {
  const Bytes elf = ElfBuilder::linux_like().build();
  Bytes payload = test::linux_payload(GetParam(), elf);
  std::fill(payload.begin() + 6, payload.end() - 4, 0xff);  // keeps the longest magic (xz)
  EXPECT_THAT(refusal(test::wrap_in_bzimage(payload)),
              StartsWith("bzImage payload: " + std::string(compression_name(GetParam())) + ": "));
}

TEST_P(BzImage, RefusesPayloadLargerThanItsSizeTrailer) {
  const Bytes elf = ElfBuilder::linux_like().build();
  Bytes payload = test::linux_payload(GetParam(), elf);
  const auto smaller = static_cast<uint32_t>(elf.size() - 100);
  std::memcpy(payload.data() + payload.size() - 4, &smaller, 4);
  EXPECT_THAT(refusal(test::wrap_in_bzimage(payload)), HasSubstr("output exceeds the limit"));
}

TEST_P(BzImage, RefusesPayloadSmallerThanItsSizeTrailer) {
  const Bytes elf = ElfBuilder::linux_like().build();
  Bytes payload = test::linux_payload(GetParam(), elf);
  const auto larger = static_cast<uint32_t>(elf.size() + 100);
  std::memcpy(payload.data() + payload.size() - 4, &larger, 4);
  // gzip's trailer is its own ISIZE, which zlib checks before xpv can compare sizes.
  const std::string expected = GetParam() == Compression::gzip
                                   ? "gzip: corrupt stream: incorrect length check"
                                   : "but its size trailer says " + to_hex(larger);
  EXPECT_THAT(refusal(test::wrap_in_bzimage(payload)), HasSubstr(expected));
}

TEST(KernelImage, BzImageRefusesPayloadDeclaringMoreThanOneGib) {
  Bytes payload = test::linux_payload(Compression::lz4_legacy, Bytes(4096, 0));
  const uint32_t huge = 0x80000000;
  std::memcpy(payload.data() + payload.size() - 4, &huge, 4);
  EXPECT_EQ(refusal(test::wrap_in_bzimage(payload)),
            "bzImage: lz4 payload declares 0x80000000 decompressed bytes, more than the limit "
            "of 0x40000000");
}

TEST(KernelImage, BzImageRefusesOldBootProtocol) {
  Bytes image = test::make_bzimage(Compression::gzip, ElfBuilder::linux_like().build());
  test::patch_setup_header(image, [](setup_header& header) { header.version = 0x0207; });
  EXPECT_EQ(
      refusal(image),
      "bzImage: boot protocol 2.07 is older than 2.08, the first to say where the payload is");
}

TEST(KernelImage, BzImageRefusesTruncatedSetupHeader) {
  Bytes image = test::make_bzimage(Compression::gzip, ElfBuilder::linux_like().build());
  image.resize(0x220);
  EXPECT_THAT(refusal(image), StartsWith("bzImage: setup header truncated"));
}

TEST(KernelImage, BzImageRefusesPayloadPastTheEnd) {
  Bytes image = test::make_bzimage(Compression::gzip, ElfBuilder::linux_like().build());
  test::patch_setup_header(image, [](setup_header& header) { header.payload_length += 0x1000; });
  EXPECT_THAT(refusal(image), StartsWith("bzImage: payload at 0x920 of"));
  EXPECT_THAT(refusal(image), HasSubstr("lies outside the"));
}

TEST(KernelImage, BzImageRefusesPayloadOffsetPastTheEnd) {
  Bytes image = test::make_bzimage(Compression::gzip, ElfBuilder::linux_like().build());
  test::patch_setup_header(image, [](setup_header& header) { header.payload_offset = 0xfffffff0; });
  EXPECT_THAT(refusal(image), StartsWith("bzImage: payload at"));
}

TEST(KernelImage, BzImageNamesAnUnknownCompressionByItsMagic) {
  EXPECT_EQ(refusal(test::wrap_in_bzimage(Bytes{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0})),
            "bzImage: unknown payload compression (magic bytes de ad be ef)");
}

TEST(KernelImage, BzImageNamesLzoAsUnsupported) {
  const Bytes lzo{0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0};
  EXPECT_EQ(refusal(test::wrap_in_bzimage(lzo)),
            "bzImage: payload is lzo-compressed (magic 89 4c 5a 4f), which xpv does not "
            "decompress");
}

TEST(KernelImage, BzImageRefusesEmptyPayload) {
  EXPECT_EQ(refusal(test::wrap_in_bzimage(Bytes{})),
            "bzImage: unknown payload compression (magic bytes none)");
}

TEST(KernelImage, BzImageRefusesPayloadTooShortForItsSizeTrailer) {
  EXPECT_EQ(refusal(test::wrap_in_bzimage(Bytes{0x02, 0x21, 0x4c, 0x18})),
            "bzImage: lz4 payload of 4 bytes is too short");
}

TEST(KernelImage, BzImageRefusesPayloadThatIsNotAnElf) {
  const Bytes not_elf = test::pattern(5000, 3);
  EXPECT_EQ(refusal(test::make_bzimage(Compression::xz, not_elf)),
            "bzImage (xz): the decompressed payload is not an ELF");
}

TEST(KernelImage, BzImageTreatsZeroSetupSectsAsFour) {
  const Bytes elf = ElfBuilder::linux_like().build();
  Bytes image = test::wrap_in_bzimage(test::linux_payload(Compression::zstd, elf),
                                      {.setup_sects = 4, .payload_offset = 0x40});
  test::patch_setup_header(image, [](setup_header& header) { header.setup_sects = 0; });
  EXPECT_EQ(load_kernel_image(image, kXpvFeatures).elf, elf);
}

// ---- files ----------------------------------------------------------------------------------

class KernelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::path(::testing::TempDir()) /
                 ("xpv-kernel-image-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string write(const std::string& name, const Bytes& bytes) {
    const auto path = directory_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }

  std::filesystem::path directory_;
};

TEST_F(KernelFile, LoadsAFile) {
  const std::string path =
      write("vmlinuz", test::make_bzimage(Compression::gzip, ElfBuilder::linux_like().build()));
  EXPECT_EQ(load_kernel_file(path, kXpvFeatures).format, "bzImage (gzip)");
}

TEST_F(KernelFile, PrefixesErrorsWithThePath) {
  const std::string path = write("junk", Bytes(100, 0));
  try {
    load_kernel_file(path, kXpvFeatures);
    FAIL() << "loaded junk";
  } catch (const ImageError& error) {
    EXPECT_EQ(error.what(), path + ": not a kernel image: no ELF or bzImage header");
  }
}

TEST_F(KernelFile, RefusesAMissingFile) {
  const std::string path = (directory_ / "missing").string();
  try {
    load_kernel_file(path, kXpvFeatures);
    FAIL() << "loaded a missing file";
  } catch (const ImageError& error) {
    EXPECT_EQ(error.what(), path + ": cannot open: No such file or directory");
  }
}

TEST_F(KernelFile, RefusesADirectory) {
  EXPECT_THROW(load_kernel_file(directory_.string(), kXpvFeatures), ImageError);
}

TEST_F(KernelFile, RefusesAFileLargerThan256MiB) {
  const std::string path = write("huge", {});
  std::filesystem::resize_file(path, kMaxKernelFileBytes + 1);  // sparse: costs no disk
  try {
    load_kernel_file(path, kXpvFeatures);
    FAIL() << "loaded a huge file";
  } catch (const ImageError& error) {
    EXPECT_EQ(error.what(),
              path + ": file of 0x10000001 bytes is larger than the limit of 0x10000000");
  }
}

// ---- Debian 12's real kernel (fetched by `make test`) ---------------------------------------

TEST(DebianKernel, LoadsAsLinuxPvGuestDocSays) {
  const std::string path = XPV_BUILD_DIR "/debian/vmlinuz";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << path << " is absent; run scripts/fetch-debian-kernel.sh " XPV_BUILD_DIR
                 << "/debian (make test does)";
  }
  const KernelImage image = load_kernel_file(path, kXpvFeatures);
  EXPECT_EQ(image.format, "bzImage (lz4)");
  EXPECT_EQ(image.virt_base, 0xffffffff80000000);
  EXPECT_EQ(image.paddr_offset, 0u);
  EXPECT_GE(image.virt_entry, image.virt_kstart);
  EXPECT_LT(image.virt_entry, image.virt_kend);
  EXPECT_EQ(image.virt_kstart, 0xffffffff81000000);
  EXPECT_EQ(image.notes.init_p2m, 0x8000000000u);
  EXPECT_TRUE(image.notes.mod_start_pfn);
  EXPECT_EQ(image.notes.required, XenFeatureSet().set(XENFEAT_writable_page_tables));
  EXPECT_EQ(image.notes.guest_os, "linux");
  EXPECT_EQ(image.notes.xen_version, "xen-3.0");
  EXPECT_FALSE(image.notes.hypercall_page);  // removed in 6.1.120 (linux-pv-guest.md)

  const auto percpu = std::find_if(image.segments.begin(), image.segments.end(),
                                   [](const LoadSegment& segment) { return segment.vaddr == 0; });
  ASSERT_NE(percpu, image.segments.end()) << "no PT_LOAD with vaddr 0 (.data..percpu)";
  EXPECT_GT(percpu->paddr, 0u);
  EXPECT_GE(image.virt_base + percpu->paddr, image.virt_kstart);
  EXPECT_LT(image.virt_base + percpu->paddr, image.virt_kend);

  Bytes memory(image.loaded_size());
  image.copy_to(memory);
  const uint64_t offset = image.virt_base + percpu->paddr - image.virt_kstart;
  EXPECT_TRUE(
      std::ranges::equal(std::span(memory).subspan(offset, percpu->filesz),
                         std::span(image.elf).subspan(percpu->file_offset, percpu->filesz)));
}

}  // namespace
}  // namespace xpv::domain
