// A KVM virtual machine: its fd and the memory slots that make up its
// guest-physical (machine) address space.
#pragma once

#include <cstdint>

#include "base/unique_fd.hpp"
#include "kvm/kvm_system.hpp"
#include "kvm/memory_region.hpp"

namespace xpv::kvm {

class Vm {
 public:
  explicit Vm(const KvmSystem& kvm);

  int fd() const { return fd_.get(); }
  const KvmSystem& system() const { return kvm_; }

  // Maps `region` at guest-physical address `gpa` as memory slot `slot`.
  void map_memory(uint32_t slot, uint64_t gpa, const MemoryRegion& region);
  void unmap_memory(uint32_t slot, uint64_t gpa);

 private:
  const KvmSystem& kvm_;
  UniqueFd fd_;
};

}  // namespace xpv::kvm
