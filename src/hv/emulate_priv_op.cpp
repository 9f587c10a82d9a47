#include "hv/emulate_priv_op.hpp"

#include <Zydis/Zydis.h>

#include <array>
#include <chrono>

#include "base/error.hpp"
#include "base/x86.hpp"
#include "hv/instruction.hpp"
#include "hv/port_io.hpp"
#include "hv/traps.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

// MSRs beyond base/x86.hpp's, by the names Xen's msr-index.h gives them
// (Intel SDM vol. 4, AMD APM vol. 2).
namespace msr_index {
constexpr uint32_t kTsc = 0x10;
constexpr uint32_t kApicBase = 0x1b;
constexpr uint32_t kFeatureControl = 0x3a;
constexpr uint32_t kUcodeRev = 0x8b;  // AMD: PATCHLEVEL
constexpr uint32_t kP6PerfCtr0 = 0xc1, kP6PerfCtr7 = 0xc8;
constexpr uint32_t kMperf = 0xe7, kAperf = 0xe8;
constexpr uint32_t kP6EvntSel0 = 0x186, kP6EvntSel7 = 0x18d;
constexpr uint32_t kPerfStatus = 0x198, kPerfCtl = 0x199;
constexpr uint32_t kThermControl = 0x19a, kThermStatus = 0x19c;
constexpr uint32_t kMiscEnable = 0x1a0;
constexpr uint32_t kEnergyPerfBias = 0x1b0;
constexpr uint32_t kPat = 0x277;
constexpr uint32_t kCorePerfFixedCtr0 = 0x309, kCorePerfFixedCtr2 = 0x30b;
constexpr uint32_t kPerfCapabilities = 0x345;
constexpr uint32_t kCorePerfFixedCtrCtrl = 0x38d, kCorePerfGlobalOvfCtrl = 0x390;
constexpr uint32_t kTscAux = 0xc0000103;
constexpr uint32_t kK7EvntSel0 = 0xc0010000, kK7PerfCtr3 = 0xc0010007;
constexpr uint32_t kK8Hwcr = 0xc0010015;
constexpr uint32_t kAmd64NbCfg = 0xc001001f;
constexpr uint32_t kK7FidVidCtl = 0xc0010041, kK7FidVidStatus = 0xc0010042;
constexpr uint32_t kFam10hMmioConfBase = 0xc0010058;
constexpr uint32_t kK8PstateLimit = 0xc0010061, kK8Pstate7 = 0xc001006b;
constexpr uint32_t kFam15hEvntSel0 = 0xc0010200, kFam15hPerfCtr5 = 0xc001020b;
constexpr uint32_t kAmd64DeCfg = 0xc0011029;
}  // namespace msr_index

// Xen's fixed PAT (XEN_MSR_PAT): WB, WT, UC-, UC, WC, WP, UC, UC. Linux
// adopts it as it finds it.
constexpr uint64_t kXenPat = 0x0000050100070406ULL;
constexpr uint64_t kApicDefaultBase = 0xfee00000;
constexpr uint64_t kApicBaseBsp = 1ULL << 8;
constexpr uint64_t kApicBaseEnable = 1ULL << 11;
constexpr uint64_t kFeatureControlLock = 1;
constexpr uint64_t kDeCfgLfenceSerialise = 1ULL << 1;

namespace misc_enable {
constexpr uint64_t kPerfAvail = 1ULL << 7;
constexpr uint64_t kBtsUnavail = 1ULL << 11;
constexpr uint64_t kPebsUnavail = 1ULL << 12;
constexpr uint64_t kMonitorEnable = 1ULL << 18;
constexpr uint64_t kXtprDisable = 1ULL << 23;
}  // namespace misc_enable

namespace cr {
constexpr uint64_t kCr0Ts = 1ULL << 3;
constexpr uint64_t kTsd = 1ULL << 2;
constexpr uint64_t kDe = 1ULL << 3;
constexpr uint64_t kMce = 1ULL << 6;
constexpr uint64_t kFsgsbase = 1ULL << 16;
constexpr uint64_t kOsxsave = 1ULL << 18;
// PV_CR4_GUEST_MASK and PV_CR4_GUEST_VISIBLE_MASK (asm/pv/domain.h).
constexpr uint64_t kGuestControlled = kTsd | kDe | kFsgsbase | kOsxsave;
constexpr uint64_t kGuestVisible = cr4::kPae | kMce | cr4::kOsfxsr | cr4::kOsxmmexcpt;
}  // namespace cr

// EFER bits Xen knows (EFER_KNOWN_MASK) less SVME and AIBRSE, which it
// hides from every guest: SCE, LME, LMA, NXE, FFXSE.
constexpr uint64_t kGuestEferMask =
    efer::kSce | efer::kLme | efer::kLma | efer::kNxe | (1ULL << 14);

bool in_range(uint32_t index, uint32_t first, uint32_t last) {
  return index >= first && index <= last;
}

bool is_intel(const CpuIdentity& cpu) {
  return cpu.vendor == CpuVendor::kIntel;
}
bool is_amd(const CpuIdentity& cpu) {
  return cpu.vendor == CpuVendor::kAmd;
}

// Performance counters: with Xen's vPMU off (its default) they read 0 and
// drop writes, on the vendor that has them (vpmu_do_msr's "nop").
bool is_vpmu_msr(uint32_t index, const CpuIdentity& cpu) {
  using namespace msr_index;
  if (is_intel(cpu))
    return in_range(index, kP6PerfCtr0, kP6PerfCtr7) || in_range(index, kP6EvntSel0, kP6EvntSel7) ||
           in_range(index, kCorePerfFixedCtr0, kCorePerfFixedCtr2) ||
           in_range(index, kCorePerfFixedCtrCtrl, kCorePerfGlobalOvfCtrl);
  if (is_amd(cpu))
    return in_range(index, kK7EvntSel0, kK7PerfCtr3) ||
           in_range(index, kFam15hEvntSel0, kFam15hPerfCtr5);
  return false;
}

// AMD power-state MSRs a domU (not the cpufreq controller) reads as 0
// and writes to no effect.
bool is_amd_pstate_msr(uint32_t index) {
  using namespace msr_index;
  return index == kK7FidVidCtl || index == kK7FidVidStatus ||
         in_range(index, kK8PstateLimit, kK8Pstate7);
}

bool has_fam10h_mmio_conf(const CpuIdentity& cpu) {
  return is_amd(cpu) && cpu.family >= 0x10 && cpu.family < 0x17;
}

uint64_t guest_misc_enable(uint64_t host) {
  using namespace misc_enable;
  return (host & ~(kPerfAvail | kMonitorEnable)) | kBtsUnavail | kPebsUnavail | kXtprDisable;
}

std::optional<uint64_t> guest_efer(const MsrContext& context) {
  auto efer = context.hardware_msr(msr::kEfer);
  if (!efer) return std::nullopt;
  return *efer & kGuestEferMask;
}

}  // namespace

// --- Pure policy -----------------------------------------------------------

CpuIdentity identify_cpu(const CpuidResult& leaf0, const CpuidResult& leaf1) {
  CpuIdentity cpu;
  // The vendor string is EBX, EDX, ECX: "GenuineIntel", "AuthenticAMD", "HygonGenuine".
  if (leaf0.ebx == 0x756e6547 && leaf0.edx == 0x49656e69 && leaf0.ecx == 0x6c65746e)
    cpu.vendor = CpuVendor::kIntel;
  else if ((leaf0.ebx == 0x68747541 && leaf0.edx == 0x69746e65 && leaf0.ecx == 0x444d4163) ||
           (leaf0.ebx == 0x6f677948 && leaf0.edx == 0x6e65476e && leaf0.ecx == 0x656e6975))
    cpu.vendor = CpuVendor::kAmd;
  unsigned family = (leaf1.eax >> 8) & 0xf;
  if (family == 0xf) family += (leaf1.eax >> 20) & 0xff;
  cpu.family = family;
  return cpu;
}

std::optional<uint64_t> read_msr(uint32_t index, const MsrContext& context) {
  using namespace msr_index;
  const CpuIdentity& cpu = context.cpu;
  switch (index) {
    case msr::kFsBase:
      return context.fs_base;
    case msr::kGsBase:
      return context.kernel_gs_base;
    case msr::kKernelGsBase:  // SHADOW_GS_BASE: what swapgs would bring in
      return context.user_gs_base;
    case kTsc:
      return context.hardware_msr(kTsc);
    case msr::kEfer:
      return guest_efer(context);
    case kApicBase:  // Linux reads it, and finds a local APIC it will not use
      return kApicDefaultBase | kApicBaseEnable | (context.vcpu_id == 0 ? kApicBaseBsp : 0);
    case kPat:
      return kXenPat;
    case kPerfCapabilities:
      return 0;
    case kMiscEnable: {
      if (!is_intel(cpu)) return std::nullopt;
      auto host = context.hardware_msr(kMiscEnable);
      if (!host) return std::nullopt;
      return guest_misc_enable(*host);
    }
    case kUcodeRev:
      if (!is_intel(cpu) && !is_amd(cpu)) return std::nullopt;
      return context.hardware_msr(kUcodeRev);
    case kFeatureControl:  // locked, nothing enabled (no VMX, no LMCE)
      if (!is_intel(cpu)) return std::nullopt;
      return kFeatureControlLock;
    case kPerfStatus:
    case kPerfCtl:
    case kThermStatus:
      if (!is_intel(cpu)) return std::nullopt;
      return 0;
    case kK8Hwcr:
      if (!is_amd(cpu)) return std::nullopt;
      return 0;
    case kAmd64DeCfg:
      if (!is_amd(cpu)) return std::nullopt;
      return kDeCfgLfenceSerialise;
    case kAmd64NbCfg:
      return 0;
    case kFam10hMmioConfBase:
      if (!has_fam10h_mmio_conf(cpu)) return std::nullopt;
      return 0;
    default:
      if (is_vpmu_msr(index, cpu) || (is_amd(cpu) && is_amd_pstate_msr(index))) return 0;
      return std::nullopt;
  }
}

bool fakes_refused_rdmsr(uint32_t index, bool guest_has_gp_handler) {
  return !guest_has_gp_handler && (index >> 16) != 0x4000;
}

MsrWrite classify_msr_write(uint32_t index, uint64_t value, const MsrContext& context) {
  using namespace msr_index;
  const CpuIdentity& cpu = context.cpu;
  auto ignore_if = [](bool condition) { return condition ? MsrWrite::kIgnore : MsrWrite::kFault; };
  switch (index) {
    case msr::kFsBase:
    case msr::kGsBase:
    case msr::kKernelGsBase:
      if (!is_canonical(value)) return MsrWrite::kFault;
      return index == msr::kFsBase   ? MsrWrite::kSetFsBase
             : index == msr::kGsBase ? MsrWrite::kSetKernelGsBase
                                     : MsrWrite::kSetUserGsBase;
    case msr::kEfer:  // Linux writes back what it read; any change is refused
      return ignore_if(guest_efer(context) == value);
    case kUcodeRev:  // Intel's "write 0, cpuid, read" sequence
      return ignore_if(is_intel(cpu) && value == 0);
    case kMiscEnable:  // Xen drops even changes, with a warning
    case kPerfCtl:
    case kThermControl:
    case kEnergyPerfBias:
      return ignore_if(is_intel(cpu));
    case kMperf:
    case kAperf:
      return ignore_if(is_intel(cpu) || is_amd(cpu));
    case kK8Hwcr:
    case kAmd64DeCfg:
      return ignore_if(is_amd(cpu));
    case kAmd64NbCfg:
      return MsrWrite::kIgnore;
    case kFam10hMmioConfBase:
      return ignore_if(has_fam10h_mmio_conf(cpu));
    default:
      return ignore_if(is_vpmu_msr(index, cpu) || (is_amd(cpu) && is_amd_pstate_msr(index)));
  }
}

uint64_t guest_cr0(uint64_t hardware_cr0, bool virtual_ts) {
  return (hardware_cr0 & ~cr::kCr0Ts) | (virtual_ts ? cr::kCr0Ts : 0);
}

std::optional<bool> cr0_write_ts(uint64_t value, uint64_t hardware_cr0) {
  if (((value ^ hardware_cr0) & ~cr::kCr0Ts) != 0) return std::nullopt;
  return (value & cr::kCr0Ts) != 0;
}

uint64_t fixup_guest_cr4(uint64_t requested, uint64_t hardware_cr4, const CpuidResult& leaf1,
                         const CpuidResult& leaf7) {
  constexpr uint32_t kLeaf1EdxDe = 1U << 2, kLeaf1EdxTsc = 1U << 4;
  constexpr uint32_t kLeaf1EcxXsave = 1U << 26, kLeaf7EbxFsgsbase = 1U << 0;
  uint64_t allowed = ((leaf1.edx & kLeaf1EdxTsc) != 0 ? cr::kTsd : 0) |
                     ((leaf1.edx & kLeaf1EdxDe) != 0 ? cr::kDe : 0) |
                     ((leaf7.ebx & kLeaf7EbxFsgsbase) != 0 ? cr::kFsgsbase : 0) |
                     ((leaf1.ecx & kLeaf1EcxXsave) != 0 ? cr::kOsxsave : 0);
  return (requested & cr::kGuestControlled & allowed) | (hardware_cr4 & cr::kGuestVisible);
}

uint64_t hardware_cr4_for(uint64_t guest_cr4, uint64_t hardware_cr4) {
  return (hardware_cr4 & ~cr::kTsd) | (guest_cr4 & cr::kTsd);
}

// --- Emulation -------------------------------------------------------------

namespace {

struct DecodedInstruction {
  ZydisDecodedInstruction info;
  std::array<ZydisDecodedOperand, ZYDIS_MAX_OPERAND_COUNT> operands;
};

std::optional<DecodedInstruction> decode(const Instruction& insn) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  DecodedInstruction d;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, insn.bytes.data(), insn.length, &d.info,
                                           d.operands.data())))
    return std::nullopt;
  return d;
}

// How one emulation ends.
enum class Outcome {
  kRetire,  // done: rip moves past the instruction
  kRefuse,  // not emulated: the #GP goes to the guest
  kRaised,  // the emulation raised an exception, already delivered
  kRepeat,  // a rep string instruction made progress: it runs again
};

Outcome raise(vmm::Vcpu& vcpu, unsigned vector, std::optional<uint64_t> error_code = {},
              uint64_t cr2 = 0) {
  deliver_exception(vcpu, Exception{vector, error_code.has_value(), error_code.value_or(0), cr2});
  return Outcome::kRaised;
}

// #PF for an access the emulation made on the guest's behalf, at its
// first inaccessible byte, as Xen's x86_emul_pagefault reports it.
Outcome raise_page_fault(vmm::Vcpu& vcpu, uint64_t va, size_t bytes, mm::Access access) {
  auto memory = vcpu.guest_memory();
  uint64_t address = va;
  while (address < va + bytes && memory.translate(address, access))
    ++address;
  if (address == va + bytes) address = va;
  uint64_t error_code = (access == mm::Access::kWrite ? 2 : 0) | (vcpu.in_kernel_mode() ? 0 : 4);
  return raise(vcpu, vector::kPageFault, error_code, address);
}

// The guest's general registers in encoding order; rsp lives in the frame.
constexpr std::array<__u64 kvm_regs::*, 16> kGprs = {
    &kvm_regs::rax, &kvm_regs::rcx, &kvm_regs::rdx, &kvm_regs::rbx, nullptr,        &kvm_regs::rbp,
    &kvm_regs::rsi, &kvm_regs::rdi, &kvm_regs::r8,  &kvm_regs::r9,  &kvm_regs::r10, &kvm_regs::r11,
    &kvm_regs::r12, &kvm_regs::r13, &kvm_regs::r14, &kvm_regs::r15};

// The 64-bit register an operand names, as an encoding number (0-15).
std::optional<unsigned> gpr_number(ZydisRegister reg) {
  ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  if (ZydisRegisterGetClass(full) != ZYDIS_REGCLASS_GPR64) return std::nullopt;
  return static_cast<unsigned>(ZydisRegisterGetId(full));
}

std::optional<uint64_t> read_gpr(vmm::Vcpu& vcpu, ZydisRegister reg) {
  auto n = gpr_number(reg);
  if (!n) return std::nullopt;
  return kGprs[*n] == nullptr ? vcpu.frame().rsp : vcpu.regs().*kGprs[*n];
}

void write_gpr(vmm::Vcpu& vcpu, ZydisRegister reg, uint64_t value) {
  auto n = gpr_number(reg);
  if (!n) return;
  if (kGprs[*n] == nullptr)
    vcpu.frame().rsp = value;
  else
    vcpu.regs().*kGprs[*n] = value;
}

const CpuidPolicy& cpuid_policy(vmm::Vcpu& vcpu) {
  return CpuidPolicy::instance(vcpu.domain().kvm());
}

MsrContext msr_context(vmm::Vcpu& vcpu) {
  const CpuidPolicy& policy = cpuid_policy(vcpu);
  MsrContext context;
  context.cpu = identify_cpu(policy.lookup(0, 0), policy.lookup(1, 0));
  context.vcpu_id = vcpu.id();
  context.fs_base = vcpu.fs_base();
  context.kernel_gs_base = vcpu.kernel_gs_base();
  context.user_gs_base = vcpu.user_gs_base();
  context.hardware_msr = [&vcpu](uint32_t index) -> std::optional<uint64_t> {
    try {
      return vcpu.kvm_vcpu().get_msr(index);
    } catch (const SystemError&) {
      return std::nullopt;  // KVM does not have it: the guest gets #GP
    }
  };
  return context;
}

Outcome emulate_rdmsr(vmm::Vcpu& vcpu) {
  kvm_regs& r = vcpu.regs();
  auto index = static_cast<uint32_t>(r.rcx);
  auto value = read_msr(index, msr_context(vcpu));
  if (!value) {
    bool has_gp_handler = vcpu.trap_table()[vector::kGeneralProtection].address != 0;
    if (!fakes_refused_rdmsr(index, has_gp_handler)) return Outcome::kRefuse;
    value = 0;
  }
  r.rax = *value & 0xffffffff;
  r.rdx = *value >> 32;
  return Outcome::kRetire;
}

Outcome emulate_wrmsr(vmm::Vcpu& vcpu) {
  const kvm_regs& r = vcpu.regs();
  auto index = static_cast<uint32_t>(r.rcx);
  uint64_t value = (r.rdx << 32) | (r.rax & 0xffffffff);
  switch (classify_msr_write(index, value, msr_context(vcpu))) {
    case MsrWrite::kFault:
      return Outcome::kRefuse;
    case MsrWrite::kIgnore:
      break;
    case MsrWrite::kSetFsBase:
      vcpu.set_fs_base(value);
      break;
    case MsrWrite::kSetKernelGsBase:
      vcpu.set_kernel_gs_base(value);
      break;
    case MsrWrite::kSetUserGsBase:
      vcpu.set_user_gs_base(value);
      break;
  }
  return Outcome::kRetire;
}

// The guest's CR4, made from the hardware's on first use (Xen sets it up
// as pv_fixup_guest_cr4(v, 0) when it creates the vCPU).
uint64_t guest_cr4(vmm::Vcpu& vcpu, uint64_t hardware_cr4) {
  auto& cr4 = vcpu.emulated.cr4;
  if (!cr4) {
    const CpuidPolicy& policy = cpuid_policy(vcpu);
    cr4 = fixup_guest_cr4(0, hardware_cr4, policy.lookup(1, 0), policy.lookup(7, 0));
  }
  return *cr4;
}

std::optional<uint64_t> read_cr(vmm::Vcpu& vcpu, unsigned index) {
  switch (index) {
    case 0:
      return guest_cr0(vcpu.kvm_vcpu().get_sregs().cr0, vcpu.virtual_ts);
    case 2:  // the last #PF address xpv delivered (or the guest wrote)
      return vcpu.vcpu_info().arch.cr2;
    case 3:  // a PV guest is not translated: its pfn is the mfn (xen_pfn_to_cr3)
      return vcpu.kernel_root_mfn() << xen::kPageShift;
    case 4:
      return guest_cr4(vcpu, vcpu.kvm_vcpu().get_sregs().cr4);
    default:
      return std::nullopt;
  }
}

bool write_cr(vmm::Vcpu& vcpu, unsigned index, uint64_t value) {
  switch (index) {
    case 0: {  // only TS may change: it is fpu_taskswitch
      auto ts = cr0_write_ts(value, vcpu.kvm_vcpu().get_sregs().cr0);
      if (!ts) return false;
      vcpu.virtual_ts = *ts;
      vcpu.set_hardware_ts(*ts);
      return true;
    }
    case 2:
      vcpu.vcpu_info().arch.cr2 = value;
      return true;
    case 4: {
      kvm_sregs s = vcpu.kvm_vcpu().get_sregs();
      const CpuidPolicy& policy = cpuid_policy(vcpu);
      uint64_t cr4 = fixup_guest_cr4(value, s.cr4, policy.lookup(1, 0), policy.lookup(7, 0));
      vcpu.emulated.cr4 = cr4;
      if (uint64_t hardware = hardware_cr4_for(cr4, s.cr4); hardware != s.cr4) {
        s.cr4 = hardware;
        vcpu.kvm_vcpu().set_sregs(s);
      }
      return true;
    }
    default:  // CR3 would be MMUEXT_NEW_BASEPTR; a PV kernel uses that
      return false;
  }
}

// mov to or from a control register; any other mov that faulted (say, on
// a non-canonical address) is the guest's.
Outcome emulate_mov_cr(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  const ZydisDecodedOperand& dst = d.operands[0];
  const ZydisDecodedOperand& src = d.operands[1];
  if (dst.type != ZYDIS_OPERAND_TYPE_REGISTER || src.type != ZYDIS_OPERAND_TYPE_REGISTER)
    return Outcome::kRefuse;
  bool to_cr = ZydisRegisterGetClass(dst.reg.value) == ZYDIS_REGCLASS_CONTROL;
  bool from_cr = ZydisRegisterGetClass(src.reg.value) == ZYDIS_REGCLASS_CONTROL;
  if (to_cr == from_cr) return Outcome::kRefuse;
  ZydisRegister reg = to_cr ? src.reg.value : dst.reg.value;
  auto index = static_cast<unsigned>((to_cr ? dst.reg.value : src.reg.value) - ZYDIS_REGISTER_CR0);
  if (to_cr) {
    auto value = read_gpr(vcpu, reg);
    return value && write_cr(vcpu, index, *value) ? Outcome::kRetire : Outcome::kRefuse;
  }
  auto value = read_cr(vcpu, index);
  if (!value) return Outcome::kRefuse;
  write_gpr(vcpu, reg, *value);
  return Outcome::kRetire;
}

Outcome emulate_clts(vmm::Vcpu& vcpu) {
  vcpu.virtual_ts = false;
  vcpu.set_hardware_ts(false);
  return Outcome::kRetire;
}

// rdtsc/rdtscp fault only while the guest's CR4.TSD is in the hardware.
Outcome emulate_rdtsc(vmm::Vcpu& vcpu, bool with_aux) {
  kvm_regs& r = vcpu.regs();
  uint64_t tsc = vcpu.kvm_vcpu().get_msr(msr_index::kTsc);
  r.rax = tsc & 0xffffffff;
  r.rdx = tsc >> 32;
  if (with_aux) r.rcx = vcpu.kvm_vcpu().get_msr(msr_index::kTscAux) & 0xffffffff;
  return Outcome::kRetire;
}

bool cpuid_has_rdtscp(vmm::Vcpu& vcpu) {
  constexpr uint32_t kExtEdxRdtscp = 1U << 27;
  return (cpuid_policy(vcpu).lookup(0x80000001, 0).edx & kExtEdxRdtscp) != 0;
}

// xsetbv needs the guest's CR4.OSXSAVE (#UD) before ring 0 (#GP). That
// bit exists only while CPUID shows XSAVE, which xpv hides: xsetbv raises
// #UD. With XSAVE shown it would have to load XCR0 (KVM_SET_XCRS).
Outcome emulate_xsetbv(vmm::Vcpu& vcpu) {
  if ((guest_cr4(vcpu, vcpu.kvm_vcpu().get_sregs().cr4) & cr::kOsxsave) == 0)
    return raise(vcpu, vector::kInvalidOpcode);
  return Outcome::kRefuse;
}

// --- Port I/O ----------------------------------------------------------

bool has_io_privilege(vmm::Vcpu& vcpu) {
  bool architectural_iopl =
      (vcpu.domain().vm_assist().load() & (1ULL << VMASST_TYPE_architectural_iopl)) != 0;
  return iopl_permits(vcpu.emulated.iopl, vcpu.in_kernel_mode(), architectural_iopl);
}

// guest_io_okay: the virtual IOPL, then the I/O bitmap the guest gave.
// Nullopt when the access may go ahead, else how the emulation ends: #GP
// for the guest, or a #PF raised reading the bitmap.
std::optional<Outcome> check_io_permission(vmm::Vcpu& vcpu, unsigned port, unsigned bytes) {
  if (has_io_privilege(vcpu)) return std::nullopt;
  const EmulatedCpuState& e = vcpu.emulated;
  if (!io_bitmap_covers(e.io_bitmap_ports, port, bytes)) return Outcome::kRefuse;
  uint64_t va = e.io_bitmap + port / 8;
  auto bits = vcpu.guest_memory().read<uint16_t>(va);
  if (!bits) return raise_page_fault(vcpu, va, sizeof(uint16_t), mm::Access::kRead);
  if (!io_bitmap_permits(*bits, port, bytes)) return Outcome::kRefuse;
  return std::nullopt;
}

uint64_t now_ns() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

uint64_t width_mask(unsigned bytes) {
  return bytes == 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

// in/out: the port is an immediate or dx; the data is al, ax or eax.
Outcome emulate_port_io(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  bool is_in = d.info.mnemonic == ZYDIS_MNEMONIC_IN;
  unsigned bytes = d.info.operand_width / 8;
  const ZydisDecodedOperand& port_operand = d.operands[is_in ? 1 : 0];
  kvm_regs& r = vcpu.regs();
  auto port = static_cast<unsigned>(port_operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                                        ? port_operand.imm.value.u & 0xff
                                        : r.rdx & 0xffff);
  if (auto denied = check_io_permission(vcpu, port, bytes)) return *denied;
  if (!is_in) {
    write_port(vcpu.emulated.ports, port, bytes, static_cast<uint32_t>(r.rax & width_mask(bytes)),
               now_ns());
    return Outcome::kRetire;
  }
  uint32_t value = read_port(vcpu.emulated.ports, port, bytes, now_ns());
  // A dword result zero-extends into rax; al and ax keep the rest.
  r.rax = bytes == 4 ? value : (r.rax & ~width_mask(bytes)) | value;
  return Outcome::kRetire;
}

// The base of the segment outs reads from: DS (0) unless overridden.
uint64_t string_source_base(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  if ((d.info.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS) != 0) return vcpu.fs_base();
  if ((d.info.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) != 0) return vcpu.kernel_gs_base();
  return 0;
}

// Iterations of a rep ins/outs per emulation: the rest runs when the
// guest executes the instruction again, so one exit stays short.
constexpr uint64_t kMaxRepsPerExit = 4096;

// ins/outs (rep or not) between a port and guest memory, through the
// kernel's page tables. From guest user mode they would need the user's:
// refused there.
Outcome emulate_string_io(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  if (!vcpu.in_kernel_mode()) return Outcome::kRefuse;
  ZydisMnemonic m = d.info.mnemonic;
  bool is_in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
  unsigned bytes = d.info.operand_width / 8;
  kvm_regs& r = vcpu.regs();
  auto port = static_cast<unsigned>(r.rdx & 0xffff);
  if (auto denied = check_io_permission(vcpu, port, bytes)) return *denied;

  uint64_t address_mask = d.info.address_width == 64 ? ~0ULL : 0xffffffffULL;
  bool rep = (d.info.attributes &
              (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
  uint64_t count = rep ? (r.rcx & address_mask) : 1;
  __u64& index = is_in ? r.rdi : r.rsi;
  uint64_t base = is_in ? 0 : string_source_base(vcpu, d);
  uint64_t step = (vcpu.frame().rflags & rflags::kDf) != 0 ? -uint64_t{bytes} : uint64_t{bytes};
  auto memory = vcpu.guest_memory();
  for (uint64_t done = 0; done < count; ++done) {
    if (done == kMaxRepsPerExit) return Outcome::kRepeat;
    uint64_t va = base + (index & address_mask);
    if (!guest_address_ok(va)) return raise(vcpu, vector::kGeneralProtection, 0);
    uint32_t data = 0;
    auto buffer = std::span(reinterpret_cast<uint8_t*>(&data), bytes);
    if (is_in) {
      data = read_port(vcpu.emulated.ports, port, bytes, now_ns());
      if (!memory.copy_to(va, buffer)) return raise_page_fault(vcpu, va, bytes, mm::Access::kWrite);
    } else {
      if (!memory.copy_from(va, buffer))
        return raise_page_fault(vcpu, va, bytes, mm::Access::kRead);
      write_port(vcpu.emulated.ports, port, bytes, data, now_ns());
    }
    index = (index + step) & address_mask;
    if (rep) r.rcx = (r.rcx - 1) & address_mask;
  }
  return Outcome::kRetire;
}

// Instructions Xen emulates in either guest mode: what port I/O needs,
// and the exceptions some instructions raise before the privilege check.
std::optional<Outcome> emulate_any_mode(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  switch (d.info.mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT:
      return emulate_port_io(vcpu, d);
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      return emulate_string_io(vcpu, d);
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
      // A no-op with I/O privilege: the guest's interrupt flag is its
      // upcall mask, which a later popf could not restore (Xen's reason).
      return has_io_privilege(vcpu) ? Outcome::kRetire : Outcome::kRefuse;
    case ZYDIS_MNEMONIC_XSETBV:
      return emulate_xsetbv(vcpu);
    case ZYDIS_MNEMONIC_RDTSCP:
      if (!cpuid_has_rdtscp(vcpu)) return raise(vcpu, vector::kInvalidOpcode);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// Instructions for ring 0, which a PV kernel is to Xen's emulator.
Outcome emulate_kernel_mode(vmm::Vcpu& vcpu, const DecodedInstruction& d) {
  switch (d.info.mnemonic) {
    case ZYDIS_MNEMONIC_RDMSR:
      return emulate_rdmsr(vcpu);
    case ZYDIS_MNEMONIC_WRMSR:
      return emulate_wrmsr(vcpu);
    case ZYDIS_MNEMONIC_MOV:
      return emulate_mov_cr(vcpu, d);
    case ZYDIS_MNEMONIC_CLTS:
      return emulate_clts(vcpu);
    case ZYDIS_MNEMONIC_WBINVD:  // and wbnoinvd (f3 prefix), which Zydis 4.0 names so
      return Outcome::kRetire;   // a domU may not flush caches; Linux does at start of day
    case ZYDIS_MNEMONIC_RDTSC:
      return emulate_rdtsc(vcpu, false);
    case ZYDIS_MNEMONIC_RDTSCP:
      return emulate_rdtsc(vcpu, true);
    default:  // hlt, invd, lgdt, mov to/from DRs...: the guest gets #GP
      return Outcome::kRefuse;
  }
}

}  // namespace

bool emulate_privileged_op(vmm::Vcpu& vcpu) {
  auto fetched = fetch_instruction(vcpu);
  if (!fetched) return false;
  auto d = decode(*fetched);
  if (!d) return false;
  std::optional<Outcome> outcome = emulate_any_mode(vcpu, *d);
  if (!outcome) outcome = vcpu.in_kernel_mode() ? emulate_kernel_mode(vcpu, *d) : Outcome::kRefuse;
  switch (*outcome) {
    case Outcome::kRefuse:
      return false;
    case Outcome::kRetire:
      vcpu.frame().rip += d->info.length;
      return true;
    case Outcome::kRaised:
    case Outcome::kRepeat:
      return true;
  }
  return false;
}

}  // namespace xpv::hv
