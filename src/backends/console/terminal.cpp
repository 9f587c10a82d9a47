#include "backends/console/terminal.hpp"

#include <termios.h>

#include <csignal>
#include <cstdlib>

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <utility>

namespace xpv::cli {

namespace {

constexpr std::array kFatalSignals = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS};

// Shared with the signal handler and the atexit hook, so plain globals:
// g_saved is written before g_raw_fd publishes it, and whoever exchanges
// g_raw_fd away from -1 is the one who restores.
termios g_saved;
std::atomic<int> g_raw_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

std::array<struct sigaction, kFatalSignals.size()> g_previous_actions;
std::array<bool, kFatalSignals.size()> g_installed{};

void restore_saved_terminal() noexcept {
  int fd = g_raw_fd.exchange(-1);
  if (fd < 0) return;
  while (::tcsetattr(fd, TCSANOW, &g_saved) != 0 && errno == EINTR) {
  }
}

void restore_and_reraise(int signal) {
  int saved_errno = errno;
  restore_saved_terminal();
  // SA_RESETHAND put back the default action, which this raise triggers
  // (now, or when the handler returns).
  ::raise(signal);
  errno = saved_errno;
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = restore_and_reraise;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    struct sigaction current {};
    g_installed[i] = false;
    if (::sigaction(kFatalSignals[i], nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    g_installed[i] = ::sigaction(kFatalSignals[i], &action, &g_previous_actions[i]) == 0;
  }
}

// Puts back SIG_DFL where our handler is still the one installed.
void remove_signal_handlers() {
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (!g_installed[i]) continue;
    struct sigaction current {};
    if (::sigaction(kFatalSignals[i], nullptr, &current) == 0 &&
        (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == restore_and_reraise)
      ::sigaction(kFatalSignals[i], &g_previous_actions[i], nullptr);
    g_installed[i] = false;
  }
}

void make_raw(termios& t) {
  t.c_iflag &= ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                                      IXON | IXOFF);
  t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
}

}  // namespace

RawTerminal::RawTerminal(int fd) {
  if (!::isatty(fd)) return;
  if (g_raw_fd.load() >= 0) throw Error("a terminal is already in raw mode");
  termios original{};
  if (::tcgetattr(fd, &original) != 0)
    throw SystemError("tcgetattr on the console terminal", errno);
  termios raw = original;
  make_raw(raw);

  g_saved = original;
  g_raw_fd.store(fd);
  static std::once_flag at_exit_hook;
  std::call_once(at_exit_hook, [] { std::atexit(restore_saved_terminal); });
  install_signal_handlers();
  active_ = true;
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) {
    int err = errno;
    restore();
    throw SystemError("tcsetattr (raw mode) on the console terminal", err);
  }
}

RawTerminal::~RawTerminal() {
  restore();
}

void RawTerminal::restore() {
  if (!active_) return;
  restore_saved_terminal();
  remove_signal_handlers();
  active_ = false;
}

void RawTerminal::restore_from_signal_handler() noexcept {
  restore_saved_terminal();
}

EscapeFilter::Result EscapeFilter::feed(std::span<uint8_t> bytes) {
  size_t kept = 0;
  for (uint8_t byte : bytes) {
    if (pending_) {
      pending_ = false;
      if (byte != kEscape) return {bytes.first(kept), true};
      bytes[kept++] = kEscape;  // the second of a pair: one goes through
    } else if (byte == kEscape) {
      pending_ = true;
    } else {
      bytes[kept++] = byte;
    }
  }
  return {bytes.first(kept), false};
}

bool EscapeFilter::expire() {
  return std::exchange(pending_, false);
}

}  // namespace xpv::cli
