#include "hypercall-selftest/selftest.hpp"

#include "runtime/console.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

// Defined by guest.ld: the address of the symbol is the value.
extern "C" const char VIRT_BASE[];

namespace selftest {

namespace {

using xpv::guest::start_info_page;

bool is_separator(char c) {
  return c == ' ' || c == '\0';
}

// The first word of the command line that starts with `name` followed by
// '=' or a separator, or nullptr.
const char* find_word(const char* name) {
  size_t name_length = strlen(name);
  const char* text = command_line();
  for (const char* word = text; *word != '\0';) {
    while (*word == ' ')
      ++word;
    if (memcmp(word, name, name_length) == 0 &&
        (word[name_length] == '=' || is_separator(word[name_length]))) {
      return word;
    }
    while (!is_separator(*word))
      ++word;
  }
  return nullptr;
}

unsigned table_index(uint64_t va, unsigned level) {
  return (va >> (12 + 9 * (level - 1))) & 511;
}

}  // namespace

const char* command_line() {
  // start_info declares it int8_t[] (xen.h).
  return reinterpret_cast<const char*>(start_info_page().cmd_line);
}

const char* option_value(const char* name, size_t* length) {
  const char* word = find_word(name);
  if (word == nullptr || word[strlen(name)] != '=') return nullptr;
  const char* value = word + strlen(name) + 1;
  *length = 0;
  while (!is_separator(value[*length]))
    ++*length;
  return value;
}

bool option_number(const char* name, uint64_t* value) {
  size_t length = 0;
  const char* text = option_value(name, &length);
  if (text == nullptr || length == 0) return false;
  *value = 0;
  for (size_t i = 0; i < length; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    *value = *value * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  return true;
}

bool known_bug_check_enabled(const char* name) {
  size_t length = 0;
  const char* value = option_value("check", &length);
  if (value != nullptr && length == strlen(name) && memcmp(value, name, length) == 0) return true;
  xpv::guest::printk("  (skipped: known xpv divergence; run with check=%s)\n", name);
  return false;
}

uint64_t virt_base() {
  return reinterpret_cast<uint64_t>(VIRT_BASE);
}

uint64_t kernel_va_of_pfn(uint64_t pfn) {
  return virt_base() + (pfn << 12);
}

const xen_pfn_t* p2m() {
  return reinterpret_cast<const xen_pfn_t*>(start_info_page().mfn_list);
}

const xen_machphys_mapping_t& machphys_mapping() {
  static xen_machphys_mapping_t mapping;
  static bool fetched = false;
  if (!fetched) {
    long rc = xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_machphys_mapping,
                                    reinterpret_cast<uintptr_t>(&mapping));
    if (rc != 0) xpv::guest::panic("XENMEM_machphys_mapping failed: %ld", rc);
    fetched = true;
  }
  return mapping;
}

uint64_t m2p(uint64_t mfn) {
  const auto& mapping = machphys_mapping();
  if (mfn > mapping.max_mfn) return ~0ULL;
  return reinterpret_cast<const volatile uint64_t*>(mapping.v_start)[mfn];
}

const uint64_t* table_of(uint64_t mfn) {
  uint64_t pfn = m2p(mfn);
  if (pfn >= start_info_page().nr_pages || p2m()[pfn] != mfn) return nullptr;
  return reinterpret_cast<const uint64_t*>(kernel_va_of_pfn(pfn));
}

Walk walk(uint64_t va) {
  Walk result;
  uint64_t table_mfn = xpv::guest::mfn_of(reinterpret_cast<const void*>(start_info_page().pt_base));
  for (unsigned level = 4; level >= 1; --level) {
    const uint64_t* table = table_of(table_mfn);
    if (table == nullptr) return result;
    uint64_t entry = table[table_index(va, level)];
    result.entry[level - 1] = entry;
    if ((entry & Walk::kPresent) == 0) break;
    table_mfn = (entry & Walk::kAddressMask) >> 12;
  }
  result.ok = true;
  return result;
}

uint64_t kernel_mapping_end() {
  uint64_t va = virt_base();
  while (walk(va).mapped())
    va += 4096;
  return va;
}

bool is_nul_terminated(const char* text, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (text[i] == '\0') return true;
  }
  return false;
}

bool equals(const char* text, const char* expected) {
  size_t length = strlen(expected);
  return memcmp(text, expected, length + 1) == 0;
}

}  // namespace selftest
