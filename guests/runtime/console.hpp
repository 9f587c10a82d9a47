// Console output through CONSOLEIO_write.
//
// Output is buffered and sent with one console_io hypercall per line (or per
// 256 bytes). That keeps each line whole in the host log and costs one exit
// per line. A line without a trailing '\n' goes out at the next newline, at
// console_flush(), or at shutdown. Guests run one vCPU with events masked,
// so the buffer needs no lock.
#pragma once

#include <cstdarg>

namespace xpv::guest {

// Writes `text` as is; no newline is added.
void print(const char* text);

// printf for integers, characters and strings: %d %i %u %x %X %c %s %p %%,
// the flags - 0 #, a width and a precision (both may be *), and the length
// modifiers hh h l ll z j t. Examples: %016lx, %#x, %-20s, %zu, %.*s. %p
// prints 0x followed by 16 hex digits. There is no floating point.
[[gnu::format(printf, 1, 2)]] void printk(const char* format, ...);
void vprintk(const char* format, va_list args);

// Sends a partial line now.
void console_flush();

}  // namespace xpv::guest
