// The user's terminal while `xpv run` is attached to a guest console:
// raw input so every key reaches the guest, and an escape key to detach.
// (It lives beside the console backend so that unit tests link it; only
// the CLI uses it.)
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <span>

#include "base/error.hpp"

namespace xpv::cli {

// Puts a terminal in raw mode for as long as it lives, and puts it back
// however xpv ends: on destruction, at exit() (std::atexit), and on a
// signal that would kill the process (SIGHUP, SIGINT, SIGQUIT, SIGTERM,
// SIGABRT, SIGSEGV, SIGBUS: the handler restores the terminal and re-raises
// the signal with its default action). Handlers are installed only where
// the disposition is still SIG_DFL, so xpv's signalfd for SIGINT/SIGTERM
// (signals blocked) and anyone else's handlers keep working.
//
// Raw means: no line editing, echo, signal keys (Ctrl-C goes to the guest)
// or flow control, 8-bit clean input, read() returns each byte as it
// comes. Output processing (OPOST, ONLCR) is kept, so xpv's own messages
// and console_io text without "\r" stay readable; the guest's "\r\n" only
// gains an invisible extra "\r".
//
// If `fd` is not a terminal nothing changes and active() is false. Only
// one RawTerminal may exist at a time.
class RawTerminal {
 public:
  explicit RawTerminal(int fd = STDIN_FILENO);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool active() const { return active_; }
  // Puts the terminal back now; the destructor then does nothing.
  void restore();

  // Async-signal-safe: restores whichever terminal a RawTerminal made raw.
  static void restore_from_signal_handler() noexcept;

 private:
  bool active_ = false;
};

// Detaching from the console, as in `xl console`: Ctrl-] (0x1d).
//   Ctrl-] Ctrl-]           one 0x1d goes to the guest;
//   Ctrl-] <any other byte> detach (that byte is discarded);
//   Ctrl-] then nothing     detach once kDoubleTapWindow passes.
// A lone Ctrl-] cannot be told from the first of a pair until the next key
// or the timeout, so the filter holds it: while pending(), poll the
// terminal with kDoubleTapWindow as the timeout and call expire() when it
// runs out. Input after the escape is dropped; the filter then starts over.
class EscapeFilter {
 public:
  static constexpr uint8_t kEscape = 0x1d;  // Ctrl-]
  static constexpr std::chrono::milliseconds kDoubleTapWindow{500};

  struct Result {
    std::span<uint8_t> to_guest;  // a prefix of the buffer fed
    bool escape = false;          // the user asked to detach
  };

  // Filters `bytes` in place.
  Result feed(std::span<uint8_t> bytes);
  bool pending() const { return pending_; }
  // No key followed a held Ctrl-] in time: returns true (detach) if one
  // was pending.
  bool expire();

 private:
  bool pending_ = false;
};

}  // namespace xpv::cli
