// One KVM vCPU: its fd, the shared kvm_run page, and register access.
// General registers travel through kvm_run's sync_regs area: reading them
// is free after an exit and writing them costs no ioctl.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>

#include "base/unique_fd.hpp"
#include "kvm/vm.hpp"

namespace xpv::kvm {

class VcpuFd {
 public:
  VcpuFd(const Vm& vm, unsigned index);
  VcpuFd(const VcpuFd&) = delete;
  VcpuFd& operator=(const VcpuFd&) = delete;
  ~VcpuFd();

  // Runs the vCPU until the next exit. Returns false when the run was
  // interrupted by a kick (signal or immediate_exit) rather than an exit.
  bool run();
  kvm_run& run_state() { return *run_; }

  // Registers as of the last exit; changes are written back on the next run.
  kvm_regs& regs() { return run_->s.regs.regs; }
  void mark_regs_dirty() { run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS; }

  kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs);
  uint64_t get_msr(uint32_t index) const;
  void set_msr(uint32_t index, uint64_t value);

  // Makes a concurrent or future run() return at once (from any thread).
  void request_immediate_exit() { __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST); }

  unsigned index() const { return index_; }
  int fd() const { return fd_.get(); }

 private:
  unsigned index_;
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  int run_size_ = 0;
};

}  // namespace xpv::kvm
