#include "domain/decompress.hpp"

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstring>
#include <string>

namespace xpv::domain {
namespace {

static_assert(std::endian::native == std::endian::little, "LE fields are read with memcpy");

// Output that grows on demand up to one byte past the limit, so that a stream exceeding the
// limit shows up as produced output instead of as a decoder error.
class BoundedOutput {
 public:
  BoundedOutput(std::string_view format, size_t max_output, size_t input_size)
      : format_(format), max_(max_output) {
    constexpr size_t kMinChunk = size_t{64} << 10;
    const size_t guess = input_size > SIZE_MAX / 4 ? SIZE_MAX : input_size * 4;
    bytes_.resize(std::min(std::max(guess, kMinChunk), room_limit()));
  }

  // Where the decoder may write next; never empty.
  std::span<uint8_t> room() {
    if (used_ == bytes_.size()) grow();
    return std::span(bytes_).subspan(used_);
  }

  void produced(size_t count) {
    used_ += count;
    if (used_ > max_) [[unlikely]] {
      throw DecompressError(std::string(format_) + ": output exceeds the limit of " +
                            std::to_string(max_) + " bytes");
    }
  }

  void append(std::span<const uint8_t> data) {
    while (!data.empty()) {
      auto space = room();
      const size_t count = std::min(space.size(), data.size());
      std::memcpy(space.data(), data.data(), count);
      data = data.subspan(count);
      produced(count);
    }
  }

  std::vector<uint8_t> take() && {
    bytes_.resize(used_);
    return std::move(bytes_);
  }

 private:
  size_t room_limit() const { return max_ == SIZE_MAX ? SIZE_MAX : max_ + 1; }

  void grow() {
    const size_t doubled = bytes_.size() > SIZE_MAX / 2 ? SIZE_MAX : bytes_.size() * 2;
    bytes_.resize(std::min(doubled, room_limit()));
  }

  std::string_view format_;
  size_t max_;
  size_t used_ = 0;
  std::vector<uint8_t> bytes_;
};

[[noreturn]] void fail(std::string_view format, const std::string& why) {
  throw DecompressError(std::string(format) + ": " + why);
}

// zlib and libbz2 count in 32-bit units; the input is fed to them in pieces of at most this.
constexpr size_t kMaxPiece = UINT_MAX;

std::vector<uint8_t> inflate_gzip(std::span<const uint8_t> input, size_t max_output) {
  z_stream stream{};
  // 16 + MAX_WBITS: accept only the gzip wrapper, which is what Linux's build writes.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) fail("gzip", "cannot initialise zlib");
  struct End {
    z_stream* stream;
    ~End() { inflateEnd(stream); }
  } end{&stream};

  BoundedOutput output("gzip", max_output, input.size());
  for (;;) {
    if (stream.avail_in == 0 && !input.empty()) {
      const size_t piece = std::min(input.size(), kMaxPiece);
      stream.next_in = const_cast<Bytef*>(input.data());  // zlib's API is not const-correct
      stream.avail_in = static_cast<uInt>(piece);
      input = input.subspan(piece);
    }
    auto room = output.room();
    const auto room_size = static_cast<uInt>(std::min(room.size(), kMaxPiece));
    stream.next_out = room.data();
    stream.avail_out = room_size;
    const int result = inflate(&stream, Z_NO_FLUSH);
    output.produced(room_size - stream.avail_out);
    if (result == Z_STREAM_END) break;
    if (result == Z_BUF_ERROR && stream.avail_in == 0 && input.empty()) {
      fail("gzip", "stream is truncated");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      fail("gzip", std::string("corrupt stream: ") + (stream.msg ? stream.msg : "inflate failed"));
    }
  }
  return std::move(output).take();
}

std::vector<uint8_t> decompress_bzip2(std::span<const uint8_t> input, size_t max_output) {
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) fail("bzip2", "cannot initialise libbz2");
  struct End {
    bz_stream* stream;
    ~End() { BZ2_bzDecompressEnd(stream); }
  } end{&stream};

  BoundedOutput output("bzip2", max_output, input.size());
  for (;;) {
    if (stream.avail_in == 0 && !input.empty()) {
      const size_t piece = std::min(input.size(), kMaxPiece);
      // libbz2's API is not const-correct; it never writes the input.
      stream.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(input.data()));
      stream.avail_in = static_cast<unsigned>(piece);
      input = input.subspan(piece);
    }
    auto room = output.room();
    const auto room_size = static_cast<unsigned>(std::min(room.size(), kMaxPiece));
    stream.next_out = reinterpret_cast<char*>(room.data());
    stream.avail_out = room_size;
    const int result = BZ2_bzDecompress(&stream);
    output.produced(room_size - stream.avail_out);
    if (result == BZ_STREAM_END) break;
    if (result != BZ_OK)
      fail("bzip2", "corrupt stream (libbz2 error " + std::to_string(result) + ")");
    if (stream.avail_in == 0 && input.empty() && stream.avail_out > 0) {
      fail("bzip2", "stream is truncated");
    }
  }
  return std::move(output).take();
}

std::string lzma_error_text(lzma_ret result) {
  switch (result) {
    case LZMA_DATA_ERROR:
      return "corrupt stream";
    case LZMA_BUF_ERROR:
      return "stream is truncated";
    case LZMA_FORMAT_ERROR:
      return "not a stream of this format";
    case LZMA_OPTIONS_ERROR:
      return "unsupported compression options";
    case LZMA_MEMLIMIT_ERROR:
      return "stream needs more decoder memory than allowed";
    case LZMA_MEM_ERROR:
      return "out of memory";
    default:
      return "liblzma error " + std::to_string(static_cast<int>(result));
  }
}

// The same dictionary limit libxc's loader grants; a kernel's xz or lzma stream needs far less.
constexpr uint64_t kLzmaMemoryLimit = uint64_t{256} << 20;

std::vector<uint8_t> run_lzma(std::string_view format, lzma_stream& stream,
                              std::span<const uint8_t> input, size_t max_output) {
  struct End {
    lzma_stream* stream;
    ~End() { lzma_end(stream); }
  } end{&stream};

  BoundedOutput output(format, max_output, input.size());
  stream.next_in = input.data();
  stream.avail_in = input.size();
  for (;;) {
    auto room = output.room();
    stream.next_out = room.data();
    stream.avail_out = room.size();
    // All input is given at once, so the decoder may finish: a stream that ends early is
    // reported as LZMA_BUF_ERROR instead of waiting for more.
    const lzma_ret result = lzma_code(&stream, LZMA_FINISH);
    output.produced(room.size() - stream.avail_out);
    if (result == LZMA_STREAM_END) break;
    if (result != LZMA_OK) fail(format, lzma_error_text(result));
  }
  return std::move(output).take();
}

std::vector<uint8_t> decompress_xz(std::span<const uint8_t> input, size_t max_output) {
  lzma_stream stream{};  // all-zero is LZMA_STREAM_INIT
  if (lzma_stream_decoder(&stream, kLzmaMemoryLimit, 0) != LZMA_OK) {
    fail("xz", "cannot initialise liblzma");
  }
  return run_lzma("xz", stream, input, max_output);
}

std::vector<uint8_t> decompress_lzma(std::span<const uint8_t> input, size_t max_output) {
  lzma_stream stream{};  // all-zero is LZMA_STREAM_INIT
  if (lzma_alone_decoder(&stream, kLzmaMemoryLimit) != LZMA_OK) {
    fail("lzma", "cannot initialise liblzma");
  }
  return run_lzma("lzma", stream, input, max_output);
}

std::vector<uint8_t> decompress_zstd(std::span<const uint8_t> input, size_t max_output) {
  struct Context {
    ZSTD_DStream* stream = ZSTD_createDStream();
    ~Context() { ZSTD_freeDStream(stream); }
  } context;
  if (context.stream == nullptr) fail("zstd", "cannot create a decompression context");

  BoundedOutput output("zstd", max_output, input.size());
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  for (;;) {
    auto room = output.room();
    ZSTD_outBuffer out{room.data(), room.size(), 0};
    const size_t result = ZSTD_decompressStream(context.stream, &out, &in);
    if (ZSTD_isError(result))
      fail("zstd", std::string("corrupt stream: ") + ZSTD_getErrorName(result));
    output.produced(out.pos);
    const bool frame_done = result == 0;
    const bool input_done = in.pos == in.size;
    if (frame_done && input_done) break;
    // The decoder wants more input but has none, and did not stop for lack of room.
    if (!frame_done && input_done && out.pos < out.size) fail("zstd", "stream is truncated");
  }
  return std::move(output).take();
}

// Legacy LZ4 frame, as `lz4 -l` writes it for Linux (linux-pv-guest.md §1.1): LE32 magic, then
// blocks of {LE32 compressed size, data}, each inflating to at most 8 MiB. A repeated magic
// between blocks (concatenated frames) is skipped.
constexpr uint32_t kLz4LegacyMagic = 0x184C2102;
constexpr size_t kLz4LegacyBlockBytes = size_t{8} << 20;

uint32_t load_le32(std::span<const uint8_t> bytes) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

std::vector<uint8_t> decompress_lz4_legacy(std::span<const uint8_t> input, size_t max_output) {
  if (input.size() < 4 || load_le32(input) != kLz4LegacyMagic) {
    fail("lz4", "missing the legacy frame magic 0x184c2102");
  }
  BoundedOutput output("lz4", max_output, input.size());
  std::vector<uint8_t> block(kLz4LegacyBlockBytes);
  auto rest = input.subspan(4);
  for (unsigned index = 0; !rest.empty();) {
    if (rest.size() < 4) fail("lz4", "truncated block size after block " + std::to_string(index));
    const uint32_t compressed_size = load_le32(rest);
    rest = rest.subspan(4);
    if (compressed_size == kLz4LegacyMagic) continue;
    if (compressed_size > rest.size()) {
      fail("lz4", "block " + std::to_string(index) + " claims " + std::to_string(compressed_size) +
                      " bytes but only " + std::to_string(rest.size()) + " remain");
    }
    if (compressed_size >
        static_cast<uint32_t>(LZ4_compressBound(static_cast<int>(kLz4LegacyBlockBytes)))) {
      fail("lz4",
           "block " + std::to_string(index) + " is larger than any 8 MiB block compresses to");
    }
    const int length = LZ4_decompress_safe(
        reinterpret_cast<const char*>(rest.data()), reinterpret_cast<char*>(block.data()),
        static_cast<int>(compressed_size), static_cast<int>(block.size()));
    if (length < 0) fail("lz4", "block " + std::to_string(index) + " is corrupt");
    output.append(std::span(block).first(static_cast<size_t>(length)));
    rest = rest.subspan(compressed_size);
    ++index;
  }
  return std::move(output).take();
}

struct Magic {
  Compression compression;
  std::string_view bytes;
};

// libxc's order (xg_dom_bzimageloader.c); lz4 is matched on its whole 4-byte magic.
constexpr std::array kMagics = {
    Magic{Compression::gzip, std::string_view("\x1f\x8b", 2)},
    Magic{Compression::bzip2, std::string_view("BZh", 3)},
    Magic{Compression::xz, std::string_view("\xfd"
                                            "7zXZ\0",
                                            6)},
    Magic{Compression::zstd, std::string_view("\x28\xb5\x2f\xfd", 4)},
    Magic{Compression::lzma, std::string_view("\x5d\x00", 2)},
    Magic{Compression::lz4_legacy, std::string_view("\x02\x21\x4c\x18", 4)},
};

}  // namespace

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::gzip:
      return "gzip";
    case Compression::bzip2:
      return "bzip2";
    case Compression::xz:
      return "xz";
    case Compression::lzma:
      return "lzma";
    case Compression::zstd:
      return "zstd";
    case Compression::lz4_legacy:
      return "lz4";
  }
  return "unknown";
}

std::optional<Compression> detect_compression(std::span<const uint8_t> stream) {
  const std::string_view head(reinterpret_cast<const char*>(stream.data()), stream.size());
  for (const auto& magic : kMagics) {
    if (head.starts_with(magic.bytes)) return magic.compression;
  }
  return std::nullopt;
}

std::vector<uint8_t> decompress(Compression compression, std::span<const uint8_t> stream,
                                size_t max_output) {
  switch (compression) {
    case Compression::gzip:
      return inflate_gzip(stream, max_output);
    case Compression::bzip2:
      return decompress_bzip2(stream, max_output);
    case Compression::xz:
      return decompress_xz(stream, max_output);
    case Compression::lzma:
      return decompress_lzma(stream, max_output);
    case Compression::zstd:
      return decompress_zstd(stream, max_output);
    case Compression::lz4_legacy:
      return decompress_lz4_legacy(stream, max_output);
  }
  fail("decompress", "unknown compression");
}

}  // namespace xpv::domain
