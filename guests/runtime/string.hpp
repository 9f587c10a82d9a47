// The C memory and string functions. GCC may call memcpy, memmove, memset
// and memcmp itself even in freestanding code (struct copies, zeroing), so
// the runtime must define them. The noexcept matches glibc's declarations,
// in case a header brings those in as well.
#pragma once

#include <cstddef>

extern "C" {
void* memset(void* dest, int value, size_t count) noexcept;
void* memcpy(void* dest, const void* src, size_t count) noexcept;
void* memmove(void* dest, const void* src, size_t count) noexcept;
int memcmp(const void* a, const void* b, size_t count) noexcept;
size_t strlen(const char* text) noexcept;
}
