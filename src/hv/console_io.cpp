// console_io: the hypervisor console, as a debug build of Xen offers it to
// every domain (xen/drivers/char/console.c).
#include <array>
#include <cstdint>

#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr size_t kChunk = 1024;

long console_write(vmm::Vcpu& vcpu, uint32_t count, uint64_t buffer) {
  auto memory = vcpu.guest_memory();
  std::array<char, kChunk> chunk;
  for (uint32_t done = 0; done < count;) {
    size_t n = std::min<size_t>(kChunk, count - done);
    if (!memory.copy_from(buffer + done, std::span(reinterpret_cast<uint8_t*>(chunk.data()), n)))
      return xen::error(XEN_EFAULT);
    vcpu.domain().console().write(std::span(chunk.data(), n));
    done += static_cast<uint32_t>(n);
  }
  return 0;
}

// Input is taken from stdin only once the guest's buffer is known to be
// writable, so a bad buffer loses nothing (Xen consumes only what it copies).
bool writable_range(vmm::Vcpu& vcpu, uint64_t va, size_t length) {
  auto memory = vcpu.guest_memory();
  for (uint64_t page = va & ~4095ULL; page < va + length; page += 4096)
    if (!memory.translate(page, mm::Access::kWrite)) return false;
  return true;
}

long console_read(vmm::Vcpu& vcpu, uint32_t count, uint64_t buffer) {
  if (count > static_cast<uint32_t>(INT32_MAX)) return xen::error(XEN_E2BIG);
  // With nothing waiting Xen copies nothing, so even a bad buffer reads 0.
  if (count == 0 || !vcpu.domain().console().input_waiting()) return 0;
  if (!writable_range(vcpu, buffer, std::min<size_t>(kChunk, count))) return xen::error(XEN_EFAULT);
  std::array<char, kChunk> chunk;
  size_t n = vcpu.domain().console().read_available(
      std::span(chunk.data(), std::min<size_t>(kChunk, count)));
  if (!vcpu.guest_memory().copy_to(buffer,
                                   std::span(reinterpret_cast<const uint8_t*>(chunk.data()), n)))
    return xen::error(XEN_EFAULT);
  return static_cast<long>(n);
}

}  // namespace

long do_console_io(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<uint32_t>(args.arg[0]);
  auto count = static_cast<uint32_t>(args.arg[1]);
  switch (cmd) {
    case CONSOLEIO_write:
      return console_write(vcpu, count, args.arg[2]);
    case CONSOLEIO_read:
      return console_read(vcpu, count, args.arg[2]);
    default:
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
