// Running code that a trap may end early, as a kernel's exception fixup
// does: xpv_try (try.S) calls a function, and a trap handler that finds
// it active may resume at its landing point (traps.hpp
// resume_at_try_landing), which makes xpv_try return a value of the
// handler's choosing instead of 0.
#pragma once

#include <cstdint>
#include <type_traits>

extern "C" {
// Calls body(arg); returns 0, or the handler's value. Not reentrant.
long xpv_try(void (*body)(void*), void* arg);
// The stack pointer to land with: 0 outside xpv_try.
extern uint64_t xpv_try_rsp;
extern const char xpv_try_landing[];
}

namespace xpv::guest {

inline bool in_try() {
  return xpv_try_rsp != 0;
}

// Runs body() under xpv_try.
template <typename Body>
long try_run(Body&& body) {
  using Callable = std::remove_reference_t<Body>;
  return xpv_try([](void* arg) { (*static_cast<Callable*>(arg))(); }, &body);
}

}  // namespace xpv::guest
