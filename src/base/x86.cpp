#include "base/x86.hpp"

namespace xpv::x86::vector {

const char* mnemonic(unsigned v) {
  static constexpr const char* kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                           "#DF", "#MF", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                           "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  return v < sizeof(kNames) / sizeof(kNames[0]) ? kNames[v] : "vector";
}

}  // namespace xpv::x86::vector
