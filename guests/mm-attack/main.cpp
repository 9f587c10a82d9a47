#include "mm-attack/attack.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace mm_attack {

mm::ScratchL1& scratch() {
  static mm::ScratchL1 the_scratch;
  return the_scratch;
}

Fault faults() {
  return {__atomic_load_n(&mm_attack_fault_count, __ATOMIC_RELAXED), mm_attack_fault_error_code,
          mm_attack_fault_rip};
}

void store(uint64_t* p, uint64_t value) {
  mm_attack_store(p, value);
}

bool is_store_site(uint64_t rip) {
  return rip == mm::address_of(mm_attack_store_site);
}

uint64_t hypervisor_frame(unsigned slot) {
  return mm::frame_of(mm::kernel_va_of_mfn(mm::kernel_l4_mfn())[slot]);
}

uint64_t end_of_ram_mfn() {
  return static_cast<uint64_t>(
             xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_maximum_ram_page, 0)) +
         1;
}

}  // namespace mm_attack

namespace {

long install_page_fault_handler() {
  trap_info_t table[2]{};
  table[0].vector = 14;
  table[0].cs = FLAT_KERNEL_CS;
  table[0].address = mm::address_of(reinterpret_cast<const void*>(&mm_attack_page_fault_entry));
  return xpv::guest::hypercall(__HYPERVISOR_set_trap_table, mm::address_of(table));
}

}  // namespace

int guest_main() {
  if (long rc = install_page_fault_handler(); rc != 0) xpv::guest::panic("set_trap_table: %ld", rc);
  mm_attack::scratch().set_up(508);
  return xpv::guest::run_all_tests();
}
