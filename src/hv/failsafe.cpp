#include "hv/failsafe.hpp"

#include <array>
#include <string>

#include "base/hex.hpp"
#include "base/x86.hpp"
#include "hv/descriptor_tables.hpp"
#include "hv/traps.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr uint64_t kPresent = 1ULL << 47, kCodeOrData = 1ULL << 44, kCode = 1ULL << 43,
                   kConforming = 1ULL << 42, kReadable = 1ULL << 41;

unsigned dpl_of(uint64_t descriptor) {
  return static_cast<unsigned>(descriptor >> 45) & 3;
}

// The CPU's checks for a data segment register load at CPL3 (SDM vol. 2,
// MOV): a data segment, or a readable code segment, with DPL 3 unless the
// code is conforming.
bool loadable_at_cpl3(uint64_t descriptor) {
  if ((descriptor & (kPresent | kCodeOrData)) != (kPresent | kCodeOrData)) return false;
  if ((descriptor & kCode) == 0) return dpl_of(descriptor) == 3;
  if ((descriptor & kReadable) == 0) return false;
  return (descriptor & kConforming) != 0 || dpl_of(descriptor) == 3;
}

constexpr const char* kNames[] = {"ds", "es", "fs", "gs"};

}  // namespace

bool loadable_data_selector(vmm::Vcpu& vcpu, uint64_t selector) {
  if ((selector & 0xfffc) == 0) return true;  // null: loads, faults on use
  auto descriptor = guest_descriptor(vcpu, selector);
  return descriptor && loadable_at_cpl3(*descriptor);
}

// Xen loads each selector with a fixup that leaves it null on a fault; if
// any faulted it writes the failsafe frame — RCX, R11, DS, ES, FS, GS, then
// the iret frame — on the guest kernel stack and enters the callback, with
// events masked if the guest asked (VGCF_failsafe_disables_events, here
// CALLBACKF_mask_events).
void reload_data_segments(vmm::Vcpu& vcpu) {
  kvm_sregs s = vcpu.kvm_vcpu().get_sregs();
  std::array<kvm_segment*, 4> segments = {&s.ds, &s.es, &s.fs, &s.gs};
  std::array<uint64_t, 4> saved{};
  std::string failed;
  for (size_t i = 0; i < segments.size(); ++i) {
    saved[i] = segments[i]->selector;
    if (loadable_data_selector(vcpu, saved[i])) continue;
    failed += std::string(failed.empty() ? "" : ", ") + kNames[i] + " " + to_hex(saved[i]);
    *segments[i] = kvm_segment{};
    segments[i]->unusable = 1;
  }
  if (failed.empty()) return;
  // A null FS or GS keeps the base the guest set (Xen restores fs_base and
  // the GS bases after loading the selectors).
  s.fs.base = vcpu.fs_base();
  s.gs.base = vcpu.gs_base_in_gs_msr();
  vcpu.kvm_vcpu().set_sregs(s);
  const vmm::Callback& failsafe = vcpu.callbacks()[CALLBACKTYPE_failsafe];
  if (failsafe.address == 0) {
    return vcpu.crash("cannot load " + failed + " and no failsafe callback is registered");
  }
  if (!bounce_to_guest(vcpu, failsafe.address, failsafe.mask_events, saved)) {
    return vcpu.crash("cannot load " + failed +
                      " nor write the failsafe frame: bad guest kernel stack");
  }
  vcpu.frame().rflags &= ~x86::rflags::kDf;
}

}  // namespace xpv::hv
