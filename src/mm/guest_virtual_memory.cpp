#include "mm/guest_virtual_memory.hpp"

#include <algorithm>
#include <vector>

#include "base/x86.hpp"
#include "monitor/layout.hpp"

namespace xpv::mm {

using namespace x86;

std::optional<uint64_t> GuestVirtualMemory::translate(uint64_t va, Access access) const {
  if (!is_canonical(va) || monitor::in_hole(va)) return std::nullopt;
  uint64_t required = pte::kPresent | pte::kUser | (access == Access::kWrite ? pte::kWritable : 0);
  uint64_t table = root_mfn_;
  for (unsigned level = 4; level >= 1; --level) {
    if (!ram_.owns(table)) return std::nullopt;
    uint64_t entry = ram_.load_entry(table, table_index(va, level));
    if ((entry & required) != required) return std::nullopt;
    if (level > 1 && (entry & pte::kPse) != 0) return std::nullopt;  // PV has no superpages
    table = (entry & pte::kAddressMask) >> 12;
  }
  if (!ram_.owns(table)) return std::nullopt;
  return table;
}

// A range that wraps around the top of the address space is never valid.
bool GuestVirtualMemory::range_allowed(uint64_t va, uint64_t length) {
  return length == 0 || va <= UINT64_MAX - (length - 1);
}

bool GuestVirtualMemory::copy_from(uint64_t va, std::span<uint8_t> out) const {
  if (!range_allowed(va, out.size())) return false;
  size_t done = 0;
  while (done < out.size()) {
    uint64_t cur = va + done;
    auto mfn = translate(cur, Access::kRead);
    if (!mfn) return false;
    size_t offset = cur & 4095;
    size_t chunk = std::min<size_t>(4096 - offset, out.size() - done);
    std::memcpy(out.data() + done, ram_.frame(*mfn).data() + offset, chunk);
    done += chunk;
  }
  return true;
}

bool GuestVirtualMemory::copy_to(uint64_t va, std::span<const uint8_t> in) const {
  if (!range_allowed(va, in.size())) return false;
  // Translate every page first so that a fault leaves the guest untouched.
  std::vector<std::pair<uint64_t, size_t>> pieces;  // (mfn, offset) per page touched
  size_t done = 0;
  while (done < in.size()) {
    uint64_t cur = va + done;
    auto mfn = translate(cur, Access::kWrite);
    if (!mfn) return false;
    size_t offset = cur & 4095;
    pieces.emplace_back(*mfn, offset);
    done += std::min<size_t>(4096 - offset, in.size() - done);
  }
  done = 0;
  for (auto [mfn, offset] : pieces) {
    size_t chunk = std::min<size_t>(4096 - offset, in.size() - done);
    std::memcpy(ram_.frame(mfn).data() + offset, in.data() + done, chunk);
    done += chunk;
  }
  return true;
}

}  // namespace xpv::mm
