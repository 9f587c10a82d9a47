// mm-selftest: direct paging from inside a PV guest, the positive side.
// The guest builds address spaces of its own from spare pages, pins and
// switches to them, maps and unmaps with every update hypercall, tears
// them down and reuses their frames, and balloons frames out and in.
#pragma once

#include "mm-common/paging.hpp"

namespace mm_selftest {

// The scratch L1 that set_up links into the kernel's L2.
mm::ScratchL1& scratch();

// A recognisable value for the first qword of a page.
constexpr uint64_t pattern(uint64_t n) {
  return 0x5e1f000000000000ULL | n;
}

}  // namespace mm_selftest
