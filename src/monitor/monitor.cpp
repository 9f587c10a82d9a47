#include "monitor/monitor.hpp"

#include <cstring>

#include "base/error.hpp"
#include "base/x86.hpp"
#include "monitor/monitor_abi.h"

extern "C" const uint8_t xpv_monitor_text[];
extern "C" const uint8_t xpv_monitor_text_end[];

namespace xpv::monitor {

namespace {

using namespace x86;

// The monitor's slot is walkable at CPL3 only so that the trampoline page
// can be: every other leaf in it is supervisor-only.
constexpr uint64_t kMonitorTable = pte::kPresent | pte::kWritable | pte::kAccessed | pte::kUser;
constexpr uint64_t kGuestReadableTable = kMonitorTable;

struct IdtGate {
  uint64_t low, high;
};

IdtGate interrupt_gate(uint64_t handler, unsigned dpl) {
  uint64_t type_attr =
      0x8eULL | (static_cast<uint64_t>(dpl) << 5);  // present 64-bit interrupt gate
  uint64_t low = (handler & 0xffff) | (static_cast<uint64_t>(kMonitorCs) << 16) |
                 (type_attr << 40) | ((handler >> 16 & 0xffff) << 48);
  return {low, handler >> 32};
}

// Xen lets guest user code raise int3 and into directly (their gates have
// DPL 3); any other `int N` takes #GP and is checked against the guest's
// trap table by the host, as Xen does in do_general_protection.
unsigned gate_dpl(unsigned vector) {
  return vector == vector::kBreakpoint || vector == vector::kOverflow ? 3 : 0;
}

kvm_segment code_segment(uint16_t selector, unsigned dpl) {
  kvm_segment s{};
  s.selector = selector;
  s.limit = 0xffffffff;
  s.type = 11;
  s.present = 1;
  s.dpl = static_cast<uint8_t>(dpl);
  s.s = 1;
  s.l = 1;
  s.g = 1;
  return s;
}

kvm_segment data_segment(uint16_t selector, unsigned dpl) {
  kvm_segment s{};
  s.selector = selector;
  s.limit = 0xffffffff;
  s.type = 3;
  s.present = 1;
  s.dpl = static_cast<uint8_t>(dpl);
  s.db = 1;
  s.s = 1;
  s.g = 1;
  return s;
}

kvm_segment null_segment() {
  kvm_segment s{};
  s.unusable = 1;
  return s;
}

}  // namespace

Monitor::Monitor(HypervisorFrames& frames, unsigned nr_vcpus, uint64_t m2p_entries)
    : frames_(frames) {
  if (nr_vcpus == 0 || nr_vcpus > kMaxVcpus)
    throw Error("a domain has 1 to " + std::to_string(kMaxVcpus) + " vCPUs");
  build_m2p(m2p_entries);  // first, so that its frames are contiguous
  monitor_l3_mfn_ = frames_.allocate().mfn;
  zero_page_mfn_ = frames_.allocate().mfn;
  build_text_and_idt();
  for (unsigned v = 0; v < nr_vcpus; ++v)
    build_vcpu_area(v);
  direct_map_l3_mfn_ = frames_.allocate().mfn;
  build_direct_map(kRamBaseMfn, m2p_entries);
  build_direct_map(frames_.base_mfn(), frames_.end_mfn());
}

// 2 MiB pages, supervisor-only and never executable: only the touch stub
// uses it (it can map a little past the end of a memory region, where
// nothing ever reads).
void Monitor::build_direct_map(uint64_t first_mfn, uint64_t end_mfn) {
  constexpr uint64_t kLargePage = 2ULL << 20;
  uint64_t end = end_mfn << 12;
  for (uint64_t pa = (first_mfn << 12) & ~(kLargePage - 1); pa < end; pa += kLargePage) {
    uint64_t va = direct_map_va(pa);
    uint64_t& l3e = table(direct_map_l3_mfn_)[table_index(va, 3)];
    if ((l3e & pte::kPresent) == 0)
      l3e = (frames_.allocate().mfn << 12) | pte::kPresent | pte::kWritable | pte::kAccessed;
    uint64_t* l2 = table((l3e & pte::kAddressMask) >> 12);
    l2[table_index(va, 2)] =
        pa | pte::kPresent | pte::kWritable | pte::kPse | pte::kAccessed | pte::kDirty | pte::kNx;
  }
}

void Monitor::build_m2p(uint64_t entries) {
  uint64_t pages = (entries * sizeof(uint64_t) + 4095) / 4096;
  std::vector<uint64_t> mfns;
  uint8_t* first = nullptr;
  for (uint64_t i = 0; i < pages; ++i) {
    Frame f = frames_.allocate();
    if (first == nullptr) first = f.bytes.data();
    mfns.push_back(f.mfn);
  }
  m2p_ = std::span<uint64_t>(reinterpret_cast<uint64_t*>(first), entries);
  std::fill(m2p_.begin(), m2p_.end(), ~0ULL);  // INVALID_M2P_ENTRY until the builder fills it
  m2p_l3_mfn_ = frames_.allocate().mfn;
  for (uint64_t i = 0; i < pages; ++i)
    map(m2p_l3_mfn_, kM2pVa + i * 4096, mfns[i], pte::kPresent | pte::kUser | pte::kNx,
        kGuestReadableTable);
}

void Monitor::build_text_and_idt() {
  static_assert(XPV_TEXT_SIZE == 2 * 4096);
  if (xpv_monitor_text_end - xpv_monitor_text != XPV_TEXT_SIZE)
    throw Error("monitor text has the wrong size");
  Frame stubs = frames_.allocate();
  Frame trampolines = frames_.allocate();
  std::memcpy(stubs.bytes.data(), xpv_monitor_text, 4096);
  std::memcpy(trampolines.bytes.data(), xpv_monitor_text + 4096, 4096);
  map(monitor_l3_mfn_, kTextVa, stubs.mfn, pte::kPresent, kMonitorTable);
  map(monitor_l3_mfn_, kTextVa + XPV_TRAMPOLINE_PAGE, trampolines.mfn, pte::kPresent | pte::kUser,
      kMonitorTable);

  Frame idt = frames_.allocate();
  auto* gates = reinterpret_cast<IdtGate*>(idt.bytes.data());
  for (unsigned v = 0; v < 256; ++v)
    gates[v] = interrupt_gate(kTextVa + v * XPV_STUB_VECTOR_STRIDE, gate_dpl(v));
  gates[vector::kPageFault] = interrupt_gate(kTextVa + XPV_STUB_PAGE_FAULT, 0);
  map(monitor_l3_mfn_, kIdtVa, idt.mfn, pte::kPresent | pte::kNx, kMonitorTable);
}

void Monitor::build_vcpu_area(unsigned vcpu) {
  uint64_t base = vcpu_area_va(vcpu);
  // Guest GDT and LDT pages read as zero descriptors until the guest's
  // set_gdt and SET_LDT.
  for (unsigned p = 0; p < kGuestGdtPages; ++p)
    map_descriptor_page(base + kGdtOffset + p * 4096ULL, 0);
  for (unsigned p = 0; p < kLdtPages; ++p)
    map_descriptor_page(base + kLdtOffset + p * 4096ULL, 0);

  Frame reserved = frames_.allocate();
  uint64_t* gdt = reserved.entries();
  gdt[reserved_gdt_index(kMonitorCs)] = descriptor::kCode64Ring0;
  gdt[reserved_gdt_index(kMonitorDs)] = descriptor::kData32Ring0;
  gdt[reserved_gdt_index(FLAT_RING3_CS32)] = descriptor::kCode32Ring3;
  gdt[reserved_gdt_index(FLAT_RING3_SS64)] = descriptor::kData32Ring3;  // also FLAT_RING3_DS32
  gdt[reserved_gdt_index(FLAT_RING3_CS64)] = descriptor::kCode64Ring3;
  auto tss = descriptor::tss64(base + kTssOffset, 0x67);
  gdt[reserved_gdt_index(kTssSelector)] = tss.low;
  gdt[reserved_gdt_index(kTssSelector) + 1] = tss.high;
  map(monitor_l3_mfn_, base + kGdtOffset + kGuestGdtPages * 4096ULL, reserved.mfn,
      pte::kPresent | pte::kWritable | pte::kNx, kMonitorTable);

  Frame tss_frame = frames_.allocate();
  uint64_t stack_top = base + kStackTopOffset;
  std::memcpy(tss_frame.bytes.data() + 4, &stack_top, sizeof stack_top);  // rsp0
  uint16_t no_io_bitmap = 0x68;  // I/O map base at the limit: every port faults at CPL3
  std::memcpy(tss_frame.bytes.data() + 0x66, &no_io_bitmap, sizeof no_io_bitmap);
  map(monitor_l3_mfn_, base + kTssOffset, tss_frame.mfn, pte::kPresent | pte::kWritable | pte::kNx,
      kMonitorTable);

  VcpuFrames vf{};
  for (unsigned p = 0; p < kStackPages; ++p) {
    Frame s = frames_.allocate();
    if (p == 0) vf.stack_host = s.bytes.data();
    map(monitor_l3_mfn_, base + kStackOffset + p * 4096ULL, s.mfn,
        pte::kPresent | pte::kWritable | pte::kNx, kMonitorTable);
  }
  vcpus_.push_back(vf);
}

void Monitor::map_gdt_frame(unsigned vcpu, unsigned page, uint64_t mfn) {
  if (vcpu >= vcpus_.size() || page >= kGuestGdtPages) throw Error("GDT frame out of range");
  map_descriptor_page(vcpu_area_va(vcpu) + kGdtOffset + page * 4096ULL, mfn);
}

void Monitor::map_ldt_frame(unsigned vcpu, unsigned page, uint64_t mfn) {
  if (vcpu >= vcpus_.size() || page >= kLdtPages) throw Error("LDT frame out of range");
  map_descriptor_page(ldt_va(vcpu) + page * 4096ULL, mfn);
}

// Writable for the CPU, which sets accessed and busy bits; the guest
// itself cannot map the frame writable while it has the descriptor type.
void Monitor::map_descriptor_page(uint64_t va, uint64_t mfn) {
  uint64_t leaf = mfn != 0 ? pte::kPresent | pte::kWritable | pte::kNx : pte::kPresent | pte::kNx;
  map(monitor_l3_mfn_, va, mfn != 0 ? mfn : zero_page_mfn_, leaf, kMonitorTable);
}

uint64_t* Monitor::table(uint64_t mfn) const {
  auto* p = reinterpret_cast<uint64_t*>(frames_.host_address(mfn));
  if (p == nullptr) throw Error("monitor page table outside hypervisor frames");
  return p;
}

void Monitor::map(uint64_t root_l3_mfn, uint64_t va, uint64_t mfn, uint64_t leaf_flags,
                  uint64_t table_flags) {
  uint64_t table_mfn = root_l3_mfn;
  for (unsigned level = 3; level > 1; --level) {
    uint64_t& entry = table(table_mfn)[table_index(va, level)];
    if ((entry & pte::kPresent) == 0) entry = (frames_.allocate().mfn << 12) | table_flags;
    table_mfn = (entry & pte::kAddressMask) >> 12;
  }
  table(table_mfn)[l1_index(va)] = (mfn << 12) | leaf_flags | pte::kAccessed | pte::kDirty;
}

// All sixteen slots of the hole are xpv's: whatever the guest stored in
// them is replaced, and the unused ones are left empty (Xen's
// init_xen_l4_slots).
void Monitor::install_hole_entries(std::span<uint64_t, 512> l4) const {
  for (unsigned slot = kFirstHoleSlot; slot <= kLastHoleSlot; ++slot)
    l4[slot] = 0;
  l4[kMonitorSlot] = (monitor_l3_mfn_ << 12) | kMonitorTable;
  l4[kM2pSlot] = (m2p_l3_mfn_ << 12) | kGuestReadableTable;
  l4[kDirectMapSlot] = (direct_map_l3_mfn_ << 12) | pte::kPresent | pte::kWritable | pte::kAccessed;
}

void Monitor::configure_vcpu(kvm::VcpuFd& vcpu, uint64_t cr3) const {
  unsigned v = vcpu.index();
  kvm_sregs s = vcpu.get_sregs();
  s.cs = code_segment(kMonitorCs, 0);
  s.ss = data_segment(kMonitorDs, 0);
  s.ds = s.es = s.fs = s.gs = null_segment();
  s.tr = kvm_segment{};
  s.tr.selector = kTssSelector;
  s.tr.base = vcpu_area_va(v) + kTssOffset;
  s.tr.limit = 0x67;
  s.tr.type = 11;  // busy 64-bit TSS
  s.tr.present = 1;
  s.ldt = null_segment();
  s.gdt.base = vcpu_area_va(v) + kGdtOffset;
  s.gdt.limit = static_cast<uint16_t>(kGdtLimit);
  s.idt.base = kIdtVa;
  s.idt.limit = 0xfff;
  s.cr0 = cr0::kPe | cr0::kMp | cr0::kEt | cr0::kNe | cr0::kWp | cr0::kPg;
  s.cr4 = cr4::kPae | cr4::kOsfxsr | cr4::kOsxmmexcpt;
  s.efer = efer::kSce | efer::kLme | efer::kLma | efer::kNxe;
  s.cr3 = cr3;
  vcpu.set_sregs(s);

  vcpu.set_msr(msr::kStar, (static_cast<uint64_t>(FLAT_RING3_CS32) << 48) |
                               (static_cast<uint64_t>(kMonitorCs) << 32));
  vcpu.set_msr(msr::kLstar, kTextVa + XPV_STUB_SYSCALL64);
  vcpu.set_msr(msr::kCstar, kTextVa + XPV_STUB_SYSCALL32);
  // Everything that could fire or misbehave in ring 0 is cleared on entry.
  vcpu.set_msr(msr::kSyscallMask,
               rflags::kTf | rflags::kIf | rflags::kDf | rflags::kAc | rflags::kNt | rflags::kIopl);
  vcpu.set_msr(msr::kSysenterCs, kMonitorCs);
  vcpu.set_msr(msr::kSysenterEip, kTextVa + XPV_STUB_SYSENTER);
  vcpu.set_msr(msr::kSysenterEsp, stack_top_va(v));
}

std::span<uint64_t> Monitor::stack_slice(unsigned vcpu, uint64_t va, size_t count) const {
  uint64_t bottom = vcpu_area_va(vcpu) + kStackOffset;
  uint64_t top = stack_top_va(vcpu);
  if (vcpu >= vcpus_.size() || va < bottom || va > top || va % 8 != 0 || count > (top - va) / 8)
    return {};
  return {reinterpret_cast<uint64_t*>(vcpus_[vcpu].stack_host + (va - bottom)), count};
}

uint64_t Monitor::return_to_guest_va() {
  return kTextVa + XPV_STUB_RETURN_TO_GUEST;
}

uint64_t Monitor::touch_and_return_va() {
  return kTextVa + XPV_STUB_TOUCH_AND_RETURN;
}

uint64_t Monitor::load_root_and_return_va(bool then_touch, bool swap_gs) {
  if (swap_gs) {
    return kTextVa + (then_touch ? XPV_STUB_SWAPGS_LOAD_ROOT_TOUCH_AND_RETURN
                                 : XPV_STUB_SWAPGS_LOAD_ROOT_AND_RETURN);
  }
  return kTextVa +
         (then_touch ? XPV_STUB_LOAD_ROOT_TOUCH_AND_RETURN : XPV_STUB_LOAD_ROOT_AND_RETURN);
}

uint64_t Monitor::touch_and_exit_va() {
  return kTextVa + XPV_STUB_TOUCH_AND_EXIT;
}

uint64_t Monitor::touch_and_exit_done_rip() {
  return kTextVa + XPV_STUB_TOUCH_AND_EXIT_OUT + XPV_STUB_OUT_LENGTH;
}

Entry Monitor::classify_exit(uint64_t rip) {
  // KVM reports the rip after the `out`; every stub is one such instruction.
  uint64_t stub = rip - XPV_STUB_OUT_LENGTH;
  if (stub < kTextVa) return {EntryKind::kUnknown, 0};
  uint64_t offset = stub - kTextVa;
  if (offset == XPV_STUB_PAGE_FAULT_OUT) return {EntryKind::kException, vector::kPageFault, true};
  if (offset < 256 * XPV_STUB_VECTOR_STRIDE && offset % XPV_STUB_VECTOR_STRIDE == 0)
    return {EntryKind::kException, static_cast<unsigned>(offset / XPV_STUB_VECTOR_STRIDE)};
  return classify_trampoline(stub);
}

Entry Monitor::classify_trampoline(uint64_t rip) {
  if (rip < kTextVa) return {EntryKind::kUnknown, 0};
  switch (rip - kTextVa) {
    case XPV_STUB_SYSCALL64:
      return {EntryKind::kSyscall64, 0};
    case XPV_STUB_SYSCALL32:
      return {EntryKind::kSyscall32, 0};
    case XPV_STUB_SYSENTER:
      return {EntryKind::kSysenter, 0};
    default:
      return {EntryKind::kUnknown, 0};
  }
}

}  // namespace xpv::monitor
