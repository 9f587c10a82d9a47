// The guest's side of hvc0 as the backend sees it: one page shared with a
// guest that may be hostile, laid out as Xen's `struct xencons_interface`
// (xen/io/console.h). The guest produces into out[] and consumes from in[];
// the backend does the reverse. Indices are free-running u32 counters,
// masked with MASK_XENCONS_IDX when used (wraparound of the u32 is normal).
//
// Every operation reads each index it needs exactly once and validates it
// before touching the ring, so a guest that rewrites indices concurrently
// can make the backend refuse work but never read or write outside in[] or
// out[]. The ring holds no state of its own: it is a view of the page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/error.hpp"
#include "xen/abi.hpp"

namespace xpv::backends::console {

// The console page cannot be used at all (e.g. it is misaligned).
class ConsoleError : public Error {
 public:
  using Error::Error;
};

// A guest broke the ring protocol: its indices claim more bytes than the
// ring holds. Nothing was transferred; the indices are the ones read.
struct RingFault {
  enum class Ring : uint8_t { kOutput, kInput };
  Ring ring;
  XENCONS_RING_IDX cons;
  XENCONS_RING_IDX prod;

  std::string describe() const;
};

// The outcome of one ring operation: how many bytes moved, or why none did.
struct Transfer {
  size_t bytes = 0;
  std::optional<RingFault> fault;
};

class ConsoleRing {
 public:
  static constexpr size_t kOutputSize = sizeof(xencons_interface::out);
  static constexpr size_t kInputSize = sizeof(xencons_interface::in);

  // `page` must stay mapped while the ring is used and be 4-byte aligned
  // (a page from mmap always is); throws ConsoleError otherwise.
  explicit ConsoleRing(std::span<uint8_t, xen::kPageSize> page);

  // Copies up to dest.size() bytes of the guest's pending output into
  // `dest`, oldest first, and advances out_cons past them. A producer index
  // more than kOutputSize ahead of out_cons (including one behind it) is a
  // fault: nothing is consumed and out_cons is left alone.
  Transfer read_output(std::span<uint8_t> dest);

  // Copies as much of `bytes` into in[] as there is room for and advances
  // in_prod past it; returns how many went in. An in_cons that leaves more
  // than kInputSize bytes in flight is a fault: nothing is written.
  Transfer write_input(std::span<const uint8_t> bytes);

 private:
  xencons_interface& interface_;
};

}  // namespace xpv::backends::console
