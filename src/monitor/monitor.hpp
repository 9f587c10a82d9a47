// The ring-0 monitor of one domain: its code, IDT, per-vCPU GDT/TSS/stack,
// the M2P, and the page tables that map them into the hypervisor hole of
// every guest address space.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvm/vcpu_fd.hpp"
#include "monitor/hypervisor_frames.hpp"
#include "monitor/layout.hpp"

namespace xpv::monitor {

// How the vCPU entered the monitor, identified by the stub it executed.
enum class EntryKind { kException, kSyscall64, kSyscall32, kSysenter, kUnknown };

struct Entry {
  EntryKind kind = EntryKind::kUnknown;
  unsigned vector = 0;  // for kException
  // The #PF stub: CR2 is in rax, the guest's rax pushed below the frame.
  bool cr2_in_rax = false;
};

class Monitor {
 public:
  // Builds the monitor for `nr_vcpus` and an M2P covering `m2p_entries`
  // machine frames, in frames taken from `frames`. Guest RAM is the
  // machine frames from kRamBaseMfn up to `m2p_entries`.
  Monitor(HypervisorFrames& frames, unsigned nr_vcpus, uint64_t m2p_entries);

  // Writes xpv's entries (monitor and M2P slots) into a guest L4 table.
  void install_hole_entries(std::span<uint64_t, 512> l4) const;

  // Sets the system registers and MSRs that put `vcpu` under the monitor,
  // with the guest's page-table root `cr3`.
  void configure_vcpu(kvm::VcpuFd& vcpu, uint64_t cr3) const;

  // Maps page `page` (0-13) of the guest part of `vcpu`'s GDT onto guest
  // frame `mfn`, or back onto the zero page when `mfn` is 0. The caller
  // holds the frame's segment-descriptor type and flushes the vCPU's TLB.
  void map_gdt_frame(unsigned vcpu, unsigned page, uint64_t mfn);
  // The same for page `page` (0-15) of `vcpu`'s LDT.
  void map_ldt_frame(unsigned vcpu, unsigned page, uint64_t mfn);
  // Where the CPU finds `vcpu`'s LDT (LDTR's base).
  static uint64_t ldt_va(unsigned vcpu) { return vcpu_area_va(vcpu) + kLdtOffset; }

  // The machine-to-phys table, indexed by MFN (host view; guests see it RO
  // at kM2pVa).
  std::span<uint64_t> m2p() const { return m2p_; }

  // The monitor stack of `vcpu`: the CPU pushes exception frames here and
  // the host writes the iretq frame that returns to the guest.
  uint64_t stack_top_va(unsigned vcpu) const { return vcpu_area_va(vcpu) + kStackTopOffset; }
  // Host view of `count` qwords of the stack of `vcpu` starting at `va`;
  // empty when the range is not inside that stack.
  std::span<uint64_t> stack_slice(unsigned vcpu, uint64_t va, size_t count) const;

  static uint64_t return_to_guest_va();
  // The other ways back to the guest (entry.S): touching page-table
  // entries first, loading a new CR3 first, or both.
  static uint64_t touch_and_return_va();
  static uint64_t load_root_and_return_va(bool then_touch, bool swap_gs = false);
  // The stub that touches entries and exits to the host, and the rip its
  // exit reports.
  static uint64_t touch_and_exit_va();
  static uint64_t touch_and_exit_done_rip();
  // Which stub the vCPU executed, from the rip KVM reports at its exit.
  static Entry classify_exit(uint64_t rip);
  // Which syscall trampoline, if any, starts at `rip`: the #GP a
  // trampoline raises when `syscall` left the vCPU at CPL3.
  static Entry classify_trampoline(uint64_t rip);

 private:
  struct VcpuFrames {
    uint8_t* stack_host;  // kStackPages contiguous pages
  };

  void build_text_and_idt();
  void build_vcpu_area(unsigned vcpu);
  void build_m2p(uint64_t entries);
  void build_direct_map(uint64_t first_mfn, uint64_t end_mfn);
  void map(uint64_t root_l3_mfn, uint64_t va, uint64_t mfn, uint64_t leaf_flags,
           uint64_t table_flags);
  uint64_t* table(uint64_t mfn) const;
  void map_descriptor_page(uint64_t va, uint64_t mfn);

  HypervisorFrames& frames_;
  uint64_t monitor_l3_mfn_ = 0;
  uint64_t m2p_l3_mfn_ = 0;
  uint64_t direct_map_l3_mfn_ = 0;
  uint64_t zero_page_mfn_ = 0;
  std::span<uint64_t> m2p_;
  std::vector<VcpuFrames> vcpus_;
};

}  // namespace xpv::monitor
