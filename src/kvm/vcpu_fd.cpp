#include "kvm/vcpu_fd.hpp"

#include "kvm/flex_ioctls.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <string>

namespace xpv::kvm {

VcpuFd::VcpuFd(const Vm& vm, unsigned index) : index_(index) {
  int fd = ::ioctl(vm.fd(), KVM_CREATE_VCPU, index);
  if (fd < 0) throw SystemError("KVM_CREATE_VCPU " + std::to_string(index), errno);
  fd_.reset(fd);
  run_size_ = vm.system().vcpu_mmap_size();
  void* p =
      ::mmap(nullptr, static_cast<size_t>(run_size_), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw SystemError("mmap kvm_run", errno);
  run_ = static_cast<kvm_run*>(p);
  run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
}

VcpuFd::~VcpuFd() {
  if (run_ != nullptr) ::munmap(run_, static_cast<size_t>(run_size_));
}

bool VcpuFd::run() {
  if (::ioctl(fd(), KVM_RUN, 0) == 0) {
    run_->kvm_dirty_regs = 0;
    return true;
  }
  if (errno == EINTR || errno == EAGAIN) {
    __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
    return false;
  }
  throw SystemError("KVM_RUN on vCPU " + std::to_string(index_), errno);
}

kvm_sregs VcpuFd::get_sregs() const {
  kvm_sregs s{};
  if (::ioctl(fd(), KVM_GET_SREGS, &s) != 0) throw SystemError("KVM_GET_SREGS", errno);
  return s;
}

void VcpuFd::set_sregs(const kvm_sregs& sregs) {
  if (::ioctl(fd(), KVM_SET_SREGS, &sregs) != 0) throw SystemError("KVM_SET_SREGS", errno);
}

uint64_t VcpuFd::get_msr(uint32_t index) const {
  uint64_t value = 0;
  if (xpv_kvm_get_msr(fd(), index, &value) != 1)
    throw SystemError("KVM_GET_MSRS " + std::to_string(index), errno);
  return value;
}

void VcpuFd::set_msr(uint32_t index, uint64_t value) {
  if (xpv_kvm_set_msr(fd(), index, value) != 1)
    throw SystemError("KVM_SET_MSRS " + std::to_string(index), errno);
}

}  // namespace xpv::kvm
