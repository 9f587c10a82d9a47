#include "kvm/vm.hpp"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <string>

namespace xpv::kvm {

Vm::Vm(const KvmSystem& kvm) : kvm_(kvm) {
  int fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (fd < 0) {
    if (errno == ENOMEM) throw KvmError("not enough memory to create a KVM VM");
    throw SystemError("KVM_CREATE_VM", errno);
  }
  fd_.reset(fd);
}

void Vm::map_memory(uint32_t slot, uint64_t gpa, const MemoryRegion& region) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.guest_phys_addr = gpa;
  r.memory_size = region.size();
  r.userspace_addr = reinterpret_cast<uint64_t>(region.data());
  if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) != 0)
    throw SystemError("KVM_SET_USER_MEMORY_REGION slot " + std::to_string(slot), errno);
}

void Vm::unmap_memory(uint32_t slot, uint64_t gpa) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.guest_phys_addr = gpa;
  r.memory_size = 0;
  if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) != 0)
    throw SystemError("KVM_SET_USER_MEMORY_REGION delete slot " + std::to_string(slot), errno);
}

}  // namespace xpv::kvm
