#include "runtime/console.hpp"

#include <cstddef>
#include <cstdint>

#include "runtime/hypercall.hpp"
#include "runtime/string.hpp"

namespace xpv::guest {
namespace {

class LineBuffer {
 public:
  void put(char c) {
    text_[length_++] = c;
    if (c == '\n' || length_ == sizeof(text_)) flush();
  }

  void put_repeated(char c, size_t count) {
    for (size_t i = 0; i < count; ++i)
      put(c);
  }

  void flush() {
    if (length_ == 0) return;
    // A failed write has nowhere to be reported, so the result is ignored.
    console_write(text_, length_);
    length_ = 0;
  }

 private:
  char text_[256] = {};
  size_t length_ = 0;
};

constinit LineBuffer console;

struct FieldSpec {
  bool left_align = false;
  bool zero_pad = false;
  bool alternate = false;  // '#': 0x prefix for %x
  size_t width = 0;
  int precision = -1;  // digits for integers, maximum characters for %s
};

void put_padded(const char* text, size_t length, const FieldSpec& spec) {
  if (spec.precision >= 0 && length > static_cast<size_t>(spec.precision)) {
    length = static_cast<size_t>(spec.precision);
  }
  size_t padding = spec.width > length ? spec.width - length : 0;
  if (!spec.left_align) console.put_repeated(' ', padding);
  for (size_t i = 0; i < length; ++i)
    console.put(text[i]);
  if (spec.left_align) console.put_repeated(' ', padding);
}

void put_integer(uint64_t magnitude, bool negative, unsigned base, bool upper_case,
                 const FieldSpec& spec) {
  const char* digit_chars = upper_case ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[64];
  size_t count = 0;
  do {
    digits[count++] = digit_chars[magnitude % base];
    magnitude /= base;
  } while (magnitude != 0);
  size_t precision_zeros =
      spec.precision > static_cast<int>(count) ? static_cast<size_t>(spec.precision) - count : 0;
  const char* prefix = negative                       ? "-"
                       : spec.alternate && base == 16 ? (upper_case ? "0X" : "0x")
                                                      : "";

  size_t length = strlen(prefix) + precision_zeros + count;
  size_t padding = spec.width > length ? spec.width - length : 0;
  // As in C, '0' pads between the sign or prefix and the digits, and is
  // ignored once a precision is given.
  bool zero_pad = spec.zero_pad && !spec.left_align && spec.precision < 0;
  if (!spec.left_align && !zero_pad) console.put_repeated(' ', padding);
  for (const char* p = prefix; *p != '\0'; ++p)
    console.put(*p);
  if (zero_pad) console.put_repeated('0', padding);
  console.put_repeated('0', precision_zeros);
  while (count > 0)
    console.put(digits[--count]);
  if (spec.left_align) console.put_repeated(' ', padding);
}

enum class Length { kChar, kShort, kInt, kLong, kLongLong };

// Parses the h, hh, l, ll, z, j and t modifiers. size_t, ptrdiff_t and
// intmax_t are all long-sized on x86-64.
Length parse_length(const char*& p) {
  switch (*p) {
    case 'h':
      if (*++p != 'h') return Length::kShort;
      ++p;
      return Length::kChar;
    case 'l':
      if (*++p != 'l') return Length::kLong;
      ++p;
      return Length::kLongLong;
    case 'z':
    case 'j':
    case 't':
      ++p;
      return Length::kLong;
    default:
      return Length::kInt;
  }
}

}  // namespace

void print(const char* text) {
  while (*text != '\0')
    console.put(*text++);
}

void console_flush() {
  console.flush();
}

void printk(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vprintk(format, args);
  va_end(args);
}

void vprintk(const char* format, va_list args) {
  for (const char* p = format; *p != '\0'; ++p) {
    if (*p != '%') {
      console.put(*p);
      continue;
    }
    const char* conversion_start = p++;

    FieldSpec spec;
    for (;; ++p) {
      if (*p == '-') {
        spec.left_align = true;
      } else if (*p == '0') {
        spec.zero_pad = true;
      } else if (*p == '#') {
        spec.alternate = true;
      } else {
        break;
      }
    }
    if (*p == '*') {
      int width = va_arg(args, int);
      if (width < 0) spec.left_align = true;
      spec.width = static_cast<size_t>(width < 0 ? -width : width);
      ++p;
    }
    while (*p >= '0' && *p <= '9')
      spec.width = spec.width * 10 + static_cast<size_t>(*p++ - '0');
    if (*p == '.') {
      spec.precision = 0;
      if (*++p == '*') {
        spec.precision = va_arg(args, int);
        ++p;
      }
      while (*p >= '0' && *p <= '9')
        spec.precision = spec.precision * 10 + (*p++ - '0');
    }
    Length length = parse_length(p);

    switch (*p) {
      case 'd':
      case 'i': {
        long long value = length == Length::kLongLong ? va_arg(args, long long)
                          : length == Length::kLong   ? va_arg(args, long)
                                                      : va_arg(args, int);
        if (length == Length::kShort) value = static_cast<short>(value);
        if (length == Length::kChar) value = static_cast<signed char>(value);
        // Negate in unsigned arithmetic: -LLONG_MIN does not fit in a long long.
        uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
        put_integer(magnitude, value < 0, 10, false, spec);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        unsigned long long value = length == Length::kLongLong ? va_arg(args, unsigned long long)
                                   : length == Length::kLong   ? va_arg(args, unsigned long)
                                                               : va_arg(args, unsigned);
        if (length == Length::kShort) value = static_cast<unsigned short>(value);
        if (length == Length::kChar) value = static_cast<unsigned char>(value);
        put_integer(value, false, *p == 'u' ? 10 : 16, *p == 'X', spec);
        break;
      }
      case 'p':
        put_integer(reinterpret_cast<uintptr_t>(va_arg(args, void*)), false, 16, false,
                    FieldSpec{.alternate = true, .precision = 16});
        break;
      case 'c': {
        char c = static_cast<char>(va_arg(args, int));
        put_padded(&c, 1, FieldSpec{.left_align = spec.left_align, .width = spec.width});
        break;
      }
      case 's': {
        const char* text = va_arg(args, const char*);
        if (text == nullptr) text = "(null)";
        // With a precision, the string need not be NUL-terminated (C11
        // 7.21.6.1), so do not read past the limit.
        size_t text_length = 0;
        while ((spec.precision < 0 || text_length < static_cast<size_t>(spec.precision)) &&
               text[text_length] != '\0') {
          ++text_length;
        }
        put_padded(text, text_length, spec);
        break;
      }
      case '%':
        console.put('%');
        break;
      default:
        // Echo an unsupported or truncated conversion, so that the mistake
        // shows up in the output.
        for (const char* q = conversion_start; q <= p && *q != '\0'; ++q)
          console.put(*q);
        if (*p == '\0') return;
        break;
    }
  }
}

}  // namespace xpv::guest
