#include "kvm/kvm_system.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <string>

namespace xpv::kvm {

namespace {

UniqueFd open_dev_kvm() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) return UniqueFd(fd);
  switch (errno) {
    case ENOENT:
      throw KvmError("no /dev/kvm: this host has no KVM (load kvm, or run on a host that has it)");
    case EACCES:
    case EPERM:
      throw KvmError("no permission to open /dev/kvm: run as root or join the 'kvm' group");
    default:
      throw SystemError("cannot open /dev/kvm", errno);
  }
}

}  // namespace

KvmSystem::KvmSystem() : fd_(open_dev_kvm()) {
  if (::ioctl(fd(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    throw KvmError("/dev/kvm speaks an unexpected KVM API version");
  // sync_regs lets every exit read and write registers through the shared
  // kvm_run page instead of two ioctls: ~10 us per exit here (docs/monitor.md).
  if ((check_extension(KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) == 0)
    throw KvmError("KVM lacks KVM_CAP_SYNC_REGS, which xpv needs");
  vcpu_mmap_size_ = ::ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (vcpu_mmap_size_ <= 0) throw SystemError("KVM_GET_VCPU_MMAP_SIZE", errno);
}

int KvmSystem::check_extension(long capability) const {
  int r = ::ioctl(fd(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

}  // namespace xpv::kvm
