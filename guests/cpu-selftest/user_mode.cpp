#include "cpu-selftest/user_mode.hpp"

#include <initializer_list>

#include "mm-common/pte.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

#include <xen/callback.h>

namespace cpu_selftest {

namespace {

using xpv::guest::hypercall;
using xpv::guest::mfn_of;

using namespace guest_pte;
constexpr uint64_t kUserFlatCs = 0xe033, kUserFlatSs = 0xe02b;  // FLAT_USER_CS64 / _SS
constexpr unsigned kKernelImageSlot = 511;                      // L4 slot of VIRT_BASE

struct alignas(4096) Table {
  uint64_t entries[512];
};

// One address space: L4 -> L3 -> L2 -> L1 -> the private page, and the
// kernel image's L3 shared in the top slot.
struct Process {
  Table l4, l3, l2, l1;
  alignas(4096) uint64_t page[512];
  alignas(16) uint8_t fpu[512];
  TrapFrame saved;
  bool runnable;
  ProcessResult result;
};

Process processes[kProcesses];
bool built = false;
unsigned current = 0, process_count = 0;

alignas(16) uint8_t user_entry_stack[16384];

constexpr long kAllExited = 1;  // xpv_try's result when every process exited

void leave_user_mode(TrapFrame& frame, long value) {
  resume_at_try_landing(frame, value);
  frame.cs = kKernelModeCs;  // RPL 0: the iret stays in guest kernel mode
  frame.ss = FLAT_KERNEL_SS;
  frame.rflags &= ~(rflags::kIf | rflags::kTf);  // events masked, as the tests run
}

unsigned table_index(uint64_t va, unsigned level) {
  return static_cast<unsigned>(va >> (12 + 9 * (level - 1))) & 511;
}

long make_read_only(const void* table) {
  return hypercall(__HYPERVISOR_update_va_mapping, address_of(table),
                   (mfn_of(table) << 12) | kKernelRO, UVMF_INVLPG | UVMF_LOCAL);
}

long mmuext(unsigned cmd, uint64_t mfn) {
  mmuext_op_t op{};
  op.cmd = cmd;
  op.arg1.mfn = mfn;
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

// Fills the tables while they are still writable, then makes them
// read-only and pins the L4, which validates the whole tree.
long build(Process& p) {
  const auto* kernel_l4 = reinterpret_cast<const uint64_t*>(xpv::guest::start_info_page().pt_base);
  p.l1.entries[table_index(kUserPageVa, 1)] =
      (mfn_of(p.page) << 12) | kPresent | kWritable | kUser | kAccessed | kDirty;
  p.l2.entries[table_index(kUserPageVa, 2)] = (mfn_of(&p.l1) << 12) | kTable;
  p.l3.entries[table_index(kUserPageVa, 3)] = (mfn_of(&p.l2) << 12) | kTable;
  p.l4.entries[table_index(kUserPageVa, 4)] = (mfn_of(&p.l3) << 12) | kTable;
  p.l4.entries[kKernelImageSlot] = kernel_l4[kKernelImageSlot];
  for (const Table* t : {&p.l1, &p.l2, &p.l3, &p.l4})
    if (long rc = make_read_only(t); rc != 0) return rc;
  return mmuext(MMUEXT_PIN_L4_TABLE, mfn_of(&p.l4));
}

long build_all() {
  if (built) return 0;
  for (Process& p : processes)
    if (long rc = build(p); rc != 0) return rc;
  built = true;
  return 0;
}

void start_state(Process& p, const UserProgram& program) {
  memset(&p.saved, 0, sizeof p.saved);
  p.saved.rip = program.entry;
  p.saved.rdi = program.arg;
  p.saved.cs = kUserFlatCs;
  p.saved.ss = kUserFlatSs;
  p.saved.rsp = kUserStackTop;
  p.saved.rflags = 0x2;  // events masked in user mode too
  xpv_fxsave(p.fpu);     // every process starts from the kernel's FPU state
  memset(&p.result, 0, sizeof p.result);
  p.runnable = true;
}

// The context switch: the user registers of the interrupted process go to
// its slot, the next one's come into the frame the syscall returns with.
void switch_to(TrapFrame& frame, unsigned next) {
  Process& from = processes[current];
  memcpy(&from.saved, &frame, sizeof frame);
  xpv_fxsave(from.fpu);
  Process& to = processes[next];
  if (mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(&to.l4)) != 0)
    xpv::guest::panic("NEW_USER_BASEPTR failed");
  xpv_fxrstor(to.fpu);
  memcpy(&frame, &to.saved, sizeof frame);
  current = next;
}

unsigned other_runnable() {
  for (unsigned i = 1; i <= process_count; ++i) {
    unsigned candidate = (current + i) % process_count;
    if (processes[candidate].runnable) return candidate;
  }
  return kProcesses;
}

void on_system_call(TrapFrame& frame) {
  Process& p = processes[current];
  switch (frame.rax) {
    case kSysWrite:
      p.result.log[p.result.writes++ % kUserLogSize] = frame.rdi;
      frame.rax = 0;
      return;
    case kSysYield:
      frame.rax = 0;
      if (unsigned next = other_runnable(); next != kProcesses && next != current)
        switch_to(frame, next);
      return;
    case kSysExit: {
      p.runnable = false;
      p.result.exited = true;
      p.result.exit_code = frame.rdi;
      unsigned next = other_runnable();
      if (next != kProcesses) return switch_to(frame, next);
      return leave_user_mode(frame, kAllExited);
    }
    default:
      frame.rax = static_cast<uint64_t>(-XEN_ENOSYS);
  }
}

long register_syscall_entry() {
  callback_register reg{};
  reg.type = CALLBACKTYPE_syscall;
  reg.address = address_of(xpv_trap_entry_0xe2);
  if (long rc = hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, address_of(&reg)))
    return rc;
  return hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS,
                   address_of(user_entry_stack + sizeof user_entry_stack));
}

}  // namespace

long run_user_programs(const UserProgram* programs, unsigned count) {
  if (count == 0 || count > kProcesses) return -XEN_EINVAL;
  if (long rc = build_all(); rc != 0) return rc;
  if (long rc = register_syscall_entry(); rc != 0) return rc;
  ScopedTrapHandler syscalls(kSystemCall, on_system_call);
  alignas(16) uint8_t kernel_fpu[512];
  xpv_fxsave(kernel_fpu);
  process_count = count;
  for (unsigned i = 0; i < count; ++i)
    start_state(processes[i], programs[i]);
  current = 0;
  long rc = mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(&processes[0].l4));
  if (rc == 0) {
    const TrapFrame& first = processes[0].saved;
    rc = try_run([&] { xpv_enter_user(first.rip, first.rsp, first.rdi); });
  }
  xpv_fxrstor(kernel_fpu);
  mmuext(MMUEXT_NEW_USER_BASEPTR, 0);
  if (rc == 0) return -XEN_EFAULT;  // user mode returned: cannot happen
  return rc == kAllExited ? 0 : rc;
}

const ProcessResult& process_result(unsigned index) {
  return processes[index].result;
}

void end_user_run(TrapFrame& frame) {
  leave_user_mode(frame, kTrapped + static_cast<long>(frame.vector));
}

uint64_t* process_page(unsigned index) {
  return processes[index].page;
}

bool on_user_entry_stack(uint64_t address) {
  return address >= address_of(user_entry_stack) &&
         address < address_of(user_entry_stack + sizeof user_entry_stack);
}

}  // namespace cpu_selftest
