// /dev/kvm: the one handle through which xpv creates VMs.
#pragma once

#include "base/error.hpp"
#include "base/unique_fd.hpp"

namespace xpv::kvm {

class KvmError : public Error {
 public:
  using Error::Error;
};

class KvmSystem {
 public:
  // Opens /dev/kvm and checks the API version and the capabilities xpv
  // builds on; each failure is a one-line KvmError saying what to fix.
  KvmSystem();

  int fd() const { return fd_.get(); }
  int vcpu_mmap_size() const { return vcpu_mmap_size_; }
  int check_extension(long capability) const;

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_ = 0;
};

}  // namespace xpv::kvm
