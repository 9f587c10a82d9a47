// Decompressors for the formats a Linux bzImage payload may use. Each takes one complete stream
// (without the size that Linux's build appends) and stops at `max_output` bytes, so a
// decompression bomb costs at most that much memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace xpv::domain {

// The stream is corrupt, truncated or decompresses to more than the limit.
class DecompressError : public xpv::Error {
 public:
  using Error::Error;
};

enum class Compression { gzip, bzip2, xz, lzma, zstd, lz4_legacy };

// "gzip", "bzip2", "xz", "lzma", "zstd", "lz4".
std::string_view compression_name(Compression compression);

// Recognises a stream by its magic bytes, in the order libxc's bzImage loader tries them.
std::optional<Compression> detect_compression(std::span<const uint8_t> stream);

std::vector<uint8_t> decompress(Compression compression, std::span<const uint8_t> stream,
                                size_t max_output);

}  // namespace xpv::domain
