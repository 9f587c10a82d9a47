// The few Itanium C++ ABI hooks that g++ may reference from freestanding
// code, for guests that use virtual functions or static objects with
// destructors.
#include <cstddef>

#include "runtime/runtime.hpp"

extern "C" {

// Static destructors never run, because a guest ends with SCHEDOP_shutdown
// and not with exit(). Registering one does nothing.
void* __dso_handle = &__dso_handle;
int __cxa_atexit(void (*)(void*), void*, void*) {
  return 0;
}

void __cxa_pure_virtual() {
  xpv::guest::panic("pure virtual function called");
}

}  // extern "C"

// Referenced by the deleting destructors of classes with virtual destructors.
// Guests have no heap, so nothing can actually be deleted.
void operator delete(void*) noexcept {
  xpv::guest::panic("operator delete: guests have no heap");
}
void operator delete(void*, size_t) noexcept {
  xpv::guest::panic("operator delete: guests have no heap");
}
