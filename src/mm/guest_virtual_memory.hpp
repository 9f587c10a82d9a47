// Copy-in/copy-out of guest virtual memory: the one validated path by which
// hypercall handlers read their arguments and write their results.
//
// A guest address is translated through the guest's own page tables (the
// root it runs on), with the checks the hardware would make for the guest
// itself at CPL3 — present and user at every level, writable for writes —
// plus Xen's: nothing in the hypervisor hole, no superpages, and only
// frames of the domain's own RAM. Anything else is a fault (-EFAULT).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

#include "mm/guest_ram.hpp"

namespace xpv::mm {

enum class Access { kRead, kWrite };

class GuestVirtualMemory {
 public:
  GuestVirtualMemory(const GuestRam& ram, uint64_t root_mfn) : ram_(ram), root_mfn_(root_mfn) {}

  // The machine frame backing `va`, if the guest may access it so.
  std::optional<uint64_t> translate(uint64_t va, Access access) const;

  // Whole-or-nothing copies: on a fault nothing is written to the guest
  // and false is returned (a copy-in may have filled part of `out`).
  bool copy_from(uint64_t va, std::span<uint8_t> out) const;
  bool copy_to(uint64_t va, std::span<const uint8_t> in) const;

  template <typename T>
  std::optional<T> read(uint64_t va) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (!copy_from(va, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), sizeof(T))))
      return std::nullopt;
    return value;
  }

  template <typename T>
  bool write(uint64_t va, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return copy_to(va,
                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }

 private:
  static bool range_allowed(uint64_t va, uint64_t length);

  const GuestRam& ram_;
  uint64_t root_mfn_;
};

}  // namespace xpv::mm
