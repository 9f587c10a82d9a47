#include "domain/decompress.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/elf_builder.hpp"

namespace xpv::domain {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

constexpr Compression kAll[] = {Compression::gzip, Compression::bzip2, Compression::xz,
                                Compression::lzma, Compression::zstd,  Compression::lz4_legacy};

// Compressible but not trivial, so every format emits more than one internal block.
Bytes sample(size_t size) {
  Bytes bytes = test::pattern(size, 7);
  for (size_t i = 0; i < size; i += 4096)
    bytes[i] = static_cast<uint8_t>(i >> 12);
  return bytes;
}

std::string message_of(Compression compression, std::span<const uint8_t> stream, size_t limit) {
  try {
    decompress(compression, stream, limit);
  } catch (const DecompressError& error) {
    return error.what();
  }
  return "no error";
}

class EachCompression : public ::testing::TestWithParam<Compression> {};

INSTANTIATE_TEST_SUITE_P(Decompress, EachCompression, ::testing::ValuesIn(kAll),
                         [](const auto& param_info) {
                           return std::string(compression_name(param_info.param));
                         });

TEST_P(EachCompression, RoundTripsData) {
  const Bytes data = sample(size_t{300} << 10);
  const Bytes stream = test::compress(GetParam(), data);
  EXPECT_EQ(decompress(GetParam(), stream, data.size()), data);
}

TEST_P(EachCompression, DecompressesEmptyInput) {
  const Bytes stream = test::compress(GetParam(), Bytes{});
  EXPECT_TRUE(decompress(GetParam(), stream, 16).empty());
}

TEST_P(EachCompression, IsDetectedByItsMagic) {
  const Bytes stream = test::compress(GetParam(), sample(1000));
  EXPECT_EQ(detect_compression(stream), GetParam());
}

TEST_P(EachCompression, StopsAtTheOutputLimit) {
  // A bomb in miniature: 4 MiB of zeroes compress to almost nothing.
  const Bytes stream = test::compress(GetParam(), Bytes(size_t{4} << 20, 0));
  const std::string message = message_of(GetParam(), stream, 1 << 20);
  EXPECT_THAT(message, HasSubstr(std::string(compression_name(GetParam())) + ": "));
  EXPECT_THAT(message, HasSubstr("output exceeds the limit of 1048576 bytes"));
}

TEST_P(EachCompression, AcceptsOutputOfExactlyTheLimit) {
  const Bytes data = sample(100000);
  EXPECT_EQ(decompress(GetParam(), test::compress(GetParam(), data), data.size()).size(),
            data.size());
}

TEST_P(EachCompression, RefusesTruncatedStream) {
  Bytes stream = test::compress(GetParam(), sample(200000));
  stream.resize(stream.size() / 2);
  const std::string message = message_of(GetParam(), stream, 1 << 20);
  EXPECT_THAT(message, HasSubstr(std::string(compression_name(GetParam())) + ": "));
  EXPECT_NE(message, "no error");
}

TEST_P(EachCompression, RefusesCorruptStream) {
  Bytes stream = test::compress(GetParam(), sample(200000));
  // lzma and lz4 carry no checksum, so flipping a few bytes might decode quietly to garbage;
  // 0xff after the magic breaks a header or block field in every format.
  std::fill(stream.begin() + 4, stream.end(), 0xff);
  EXPECT_THROW(decompress(GetParam(), stream, 1 << 20), DecompressError);
}

TEST(Decompress, NamesEachFormat) {
  EXPECT_EQ(compression_name(Compression::gzip), "gzip");
  EXPECT_EQ(compression_name(Compression::bzip2), "bzip2");
  EXPECT_EQ(compression_name(Compression::xz), "xz");
  EXPECT_EQ(compression_name(Compression::lzma), "lzma");
  EXPECT_EQ(compression_name(Compression::zstd), "zstd");
  EXPECT_EQ(compression_name(Compression::lz4_legacy), "lz4");
}

TEST(Decompress, DetectsNothingInUnknownOrShortInput) {
  EXPECT_EQ(detect_compression(Bytes{0x7f, 'E', 'L', 'F'}), std::nullopt);
  EXPECT_EQ(detect_compression(Bytes{0x1f}), std::nullopt);
  EXPECT_EQ(detect_compression(Bytes{}), std::nullopt);
  EXPECT_EQ(detect_compression(Bytes{0x89, 'L', 'Z', 'O'}), std::nullopt);
}

TEST(Lz4Legacy, DecompressesManyBlocks) {
  const Bytes data = sample(100000);
  const Bytes stream = test::lz4_legacy_compress(data, 16384);
  EXPECT_EQ(decompress(Compression::lz4_legacy, stream, data.size()), data);
}

TEST(Lz4Legacy, SkipsARepeatedMagicBetweenBlocks) {
  const Bytes data = sample(100000);
  const Bytes stream = test::lz4_legacy_compress(data, 16384, /*repeat_magic=*/true);
  EXPECT_EQ(decompress(Compression::lz4_legacy, stream, data.size()), data);
}

TEST(Lz4Legacy, RefusesMissingMagic) {
  Bytes stream = test::lz4_legacy_compress(sample(1000));
  stream[0] = 0;
  EXPECT_THAT(message_of(Compression::lz4_legacy, stream, 1 << 20),
              HasSubstr("missing the legacy frame magic"));
}

TEST(Lz4Legacy, RefusesBlockLongerThanTheInput) {
  Bytes stream = test::lz4_legacy_compress(sample(1000));
  stream.resize(stream.size() - 1);
  EXPECT_THAT(message_of(Compression::lz4_legacy, stream, 1 << 20), HasSubstr("block 0 claims"));
}

TEST(Lz4Legacy, RefusesTruncatedBlockSize) {
  Bytes stream = test::lz4_legacy_compress(sample(1000));
  stream.insert(stream.end(), {0x10, 0x00});
  EXPECT_THAT(message_of(Compression::lz4_legacy, stream, 1 << 20),
              HasSubstr("truncated block size after block 1"));
}

TEST(Lz4Legacy, RefusesCorruptBlock) {
  Bytes stream = test::lz4_legacy_compress(sample(100000));
  for (size_t i = 8; i < stream.size(); i += 7)
    stream[i] = 0xff;
  EXPECT_THAT(message_of(Compression::lz4_legacy, stream, 1 << 20),
              HasSubstr("block 0 is corrupt"));
}

}  // namespace
}  // namespace xpv::domain
