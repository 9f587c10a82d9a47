#include "domain/hypercall_page.hpp"

#include <algorithm>
#include <array>

#include "xen/abi.hpp"

namespace xpv::domain {

namespace {

constexpr uint8_t kInt3 = 0xcc;

// push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret
std::array<uint8_t, 14> normal_stub(uint32_t nr) {
  return {0x51,
          0x41,
          0x53,
          0xb8,
          static_cast<uint8_t>(nr),
          static_cast<uint8_t>(nr >> 8),
          static_cast<uint8_t>(nr >> 16),
          static_cast<uint8_t>(nr >> 24),
          0x0f,
          0x05,
          0x41,
          0x5b,
          0x59,
          0xc3};
}

// iret never returns to its stub: push %rcx; push %r11; push %rax;
// mov $__HYPERVISOR_iret,%eax; syscall
std::array<uint8_t, 11> iret_stub() {
  constexpr uint32_t nr = __HYPERVISOR_iret;
  return {0x51, 0x41, 0x53, 0x50, 0xb8, static_cast<uint8_t>(nr), 0, 0, 0, 0x0f, 0x05};
}

}  // namespace

void write_hypercall_page(std::span<uint8_t, 4096> page) {
  std::fill(page.begin(), page.end(), kInt3);
  for (uint32_t nr = 0; nr < page.size() / kHypercallStubSize; ++nr) {
    uint8_t* stub = page.data() + nr * kHypercallStubSize;
    if (nr == __HYPERVISOR_iret) {
      auto code = iret_stub();
      std::copy(code.begin(), code.end(), stub);
    } else {
      auto code = normal_stub(nr);
      std::copy(code.begin(), code.end(), stub);
    }
  }
}

}  // namespace xpv::domain
