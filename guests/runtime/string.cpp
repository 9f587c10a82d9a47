#include "runtime/string.hpp"

#include <cstdint>

// memset, memcpy and memmove use the string instructions. A plain byte loop
// would be turned by GCC's loop-distribution pass back into a call to the
// function being defined, which recurses forever.

extern "C" void* memset(void* dest, int value, size_t count) noexcept {
  void* cursor = dest;
  asm volatile("rep stosb" : "+D"(cursor), "+c"(count) : "a"(value) : "memory");
  return dest;
}

extern "C" void* memcpy(void* dest, const void* src, size_t count) noexcept {
  void* to = dest;
  asm volatile("rep movsb" : "+D"(to), "+S"(src), "+c"(count) : : "memory");
  return dest;
}

extern "C" void* memmove(void* dest, const void* src, size_t count) noexcept {
  auto to = reinterpret_cast<uintptr_t>(dest);
  auto from = reinterpret_cast<uintptr_t>(src);
  if (to <= from || to >= from + count) return memcpy(dest, src, count);
  // The regions overlap with dest above src: copy backwards, from the last
  // byte, with DF set for the duration only.
  to += count - 1;
  from += count - 1;
  asm volatile("std; rep movsb; cld" : "+D"(to), "+S"(from), "+c"(count) : : "memory", "cc");
  return dest;
}

extern "C" int memcmp(const void* a, const void* b, size_t count) noexcept {
  auto* left = static_cast<const unsigned char*>(a);
  auto* right = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < count; ++i) {
    if (left[i] != right[i]) return left[i] < right[i] ? -1 : 1;
  }
  return 0;
}

extern "C" size_t strlen(const char* text) noexcept {
  size_t length = 0;
  while (text[length] != '\0')
    ++length;
  return length;
}
