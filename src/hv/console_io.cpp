// console_io: the hypervisor console, as a debug build of Xen offers it to
// every domain (xen/drivers/char/console.c).
#include <array>

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

long console_read(vmm::Vcpu& vcpu, uint32_t count, uint64_t buffer) {
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
