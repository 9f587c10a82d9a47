// The x86 bzImage wrapper (Linux 6.1 Documentation/x86/boot.rst, struct setup_header in
// <asm/bootparam.h>): xpv skips the real-mode setup and the decompressor and takes the compressed
// vmlinux ELF that boot protocol 2.08+ points at, as libxc's bzImage loader does.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "domain/decompress.hpp"

namespace xpv::domain {

// The "HdrS" signature sits where the setup header says it should.
bool has_bzimage_header(std::span<const uint8_t> file);

struct BzImagePayload {
  Compression compression = Compression::gzip;
  std::vector<uint8_t> decompressed;
};

// Locates and decompresses the payload; throws ImageError ("bzImage: ...") on a bad header,
// a payload outside the file, an unknown compression, a corrupt stream, or a payload that
// would decompress to more than `max_output` bytes.
BzImagePayload unpack_bzimage(std::span<const uint8_t> file, uint64_t max_output);

}  // namespace xpv::domain
