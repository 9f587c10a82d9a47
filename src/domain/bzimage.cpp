#include "domain/bzimage.hpp"

#include <asm/bootparam.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "domain/kernel_image.hpp"

namespace xpv::domain {
namespace {

static_assert(std::endian::native == std::endian::little, "setup header fields are read in place");

// A bzImage starts with the layout of struct boot_params, whose `hdr` is the setup header.
constexpr size_t kSetupHeaderOffset = offsetof(boot_params, hdr);
constexpr size_t kSetupHeaderEnd = kSetupHeaderOffset + sizeof(setup_header);
constexpr size_t kSignatureOffset = kSetupHeaderOffset + offsetof(setup_header, header);
constexpr std::string_view kSignature = "HdrS";
// Boot protocol 2.08 added payload_offset and payload_length, which is how xpv finds the ELF.
constexpr uint16_t kMinBootProtocol = 0x0208;
constexpr uint64_t kSectorBytes = 512;
// Linux's build appends the decompressed size as LE32 (size_append; gzip's ISIZE plays that role).
constexpr size_t kSizeTrailerBytes = 4;
constexpr std::string_view kLzoMagic("\x89LZO", 4);

std::string protocol_version(uint16_t version) {
  char text[16];
  std::snprintf(text, sizeof text, "%u.%02u", version >> 8, version & 0xffU);
  return text;
}

setup_header read_setup_header(std::span<const uint8_t> file) {
  if (file.size() < kSetupHeaderEnd) {
    throw ImageError("bzImage: setup header truncated: the file has " + to_hex(file.size()) +
                     " bytes, the header ends at " + to_hex(kSetupHeaderEnd));
  }
  setup_header header{};
  std::memcpy(&header, file.data() + kSetupHeaderOffset, sizeof header);
  return header;
}

std::span<const uint8_t> locate_payload(std::span<const uint8_t> file, const setup_header& header) {
  const uint16_t version = header.version;
  if (version < kMinBootProtocol) {
    throw ImageError("bzImage: boot protocol " + protocol_version(version) +
                     " is older than 2.08, the first to say where the payload is");
  }
  // boot.rst: a setup_sects of 0 means 4.
  const uint64_t setup_sectors = header.setup_sects == 0 ? 4 : header.setup_sects;
  const uint64_t start = (setup_sectors + 1) * kSectorBytes + header.payload_offset;
  const uint64_t length = header.payload_length;
  if (start > file.size() || length > file.size() - start) {
    throw ImageError("bzImage: payload at " + to_hex(start) + " of " + to_hex(length) +
                     " bytes lies outside the " + to_hex(file.size()) + "-byte file");
  }
  return file.subspan(start, length);
}

std::string magic_bytes(std::span<const uint8_t> payload) {
  std::string text;
  for (const uint8_t byte : payload.first(std::min<size_t>(payload.size(), 4))) {
    char hex[4];
    std::snprintf(hex, sizeof hex, text.empty() ? "%02x" : " %02x", byte);
    text += hex;
  }
  return text.empty() ? "none" : text;
}

Compression payload_compression(std::span<const uint8_t> payload) {
  if (const auto compression = detect_compression(payload)) return *compression;
  const std::string_view head(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (head.starts_with(kLzoMagic)) {
    throw ImageError("bzImage: payload is lzo-compressed (magic " + magic_bytes(payload) +
                     "), which xpv does not decompress");
  }
  throw ImageError("bzImage: unknown payload compression (magic bytes " + magic_bytes(payload) +
                   ")");
}

uint32_t declared_size(std::span<const uint8_t> payload) {
  uint32_t size = 0;
  std::memcpy(&size, payload.data() + payload.size() - kSizeTrailerBytes, sizeof size);
  return size;
}

}  // namespace

bool has_bzimage_header(std::span<const uint8_t> file) {
  if (file.size() < kSignatureOffset + kSignature.size()) return false;
  return std::memcmp(file.data() + kSignatureOffset, kSignature.data(), kSignature.size()) == 0;
}

BzImagePayload unpack_bzimage(std::span<const uint8_t> file, uint64_t max_output) {
  if (!has_bzimage_header(file)) throw ImageError("bzImage: no \"HdrS\" setup header signature");
  const auto payload = locate_payload(file, read_setup_header(file));
  const Compression compression = payload_compression(payload);
  const std::string name(compression_name(compression));
  if (payload.size() <= kSizeTrailerBytes) {
    throw ImageError("bzImage: " + name + " payload of " + std::to_string(payload.size()) +
                     " bytes is too short");
  }
  // Refuse a bomb before decompressing anything; the decoder is also capped at this size.
  const uint64_t size = declared_size(payload);
  if (size > max_output) {
    throw ImageError("bzImage: " + name + " payload declares " + to_hex(size) +
                     " decompressed bytes, more than the limit of " + to_hex(max_output));
  }
  // gzip's trailer is part of its own stream; every other decoder must not see it.
  const auto stream = compression == Compression::gzip
                          ? payload
                          : payload.first(payload.size() - kSizeTrailerBytes);

  BzImagePayload result{compression, {}};
  try {
    result.decompressed = decompress(compression, stream, size);
  } catch (const DecompressError& error) {
    throw ImageError(std::string("bzImage payload: ") + error.what());
  }
  if (result.decompressed.size() != size) {
    throw ImageError("bzImage payload: " + name + ": decompressed to " +
                     to_hex(result.decompressed.size()) + " bytes, but its size trailer says " +
                     to_hex(size));
  }
  return result;
}

}  // namespace xpv::domain
