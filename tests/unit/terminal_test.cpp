#include "backends/console/terminal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "base/unique_fd.hpp"

namespace xpv::cli {
namespace {

// A pseudo-terminal from posix_openpt, so no extra library is needed.
struct Pty {
  UniqueFd master;
  UniqueFd slave;
};

Pty open_pty() {
  Pty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master.valid() || ::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0)
    throw std::runtime_error("posix_openpt");
  const char* name = ::ptsname(pty.master.get());
  if (name == nullptr) throw std::runtime_error("ptsname");
  pty.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave.valid()) throw std::runtime_error("open pty slave");
  return pty;
}

termios attributes(int fd) {
  termios t{};
  EXPECT_EQ(::tcgetattr(fd, &t), 0);
  return t;
}

void expect_same_mode(const termios& a, const termios& b) {
  EXPECT_EQ(a.c_iflag, b.c_iflag);
  EXPECT_EQ(a.c_oflag, b.c_oflag);
  EXPECT_EQ(a.c_cflag, b.c_cflag);
  EXPECT_EQ(a.c_lflag, b.c_lflag);
  for (size_t i = 0; i < NCCS; ++i)
    EXPECT_EQ(a.c_cc[i], b.c_cc[i]) << "c_cc[" << i << "]";
}

bool is_raw(const termios& t) {
  return (t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == 0 && (t.c_iflag & (ICRNL | IXON)) == 0 &&
         (t.c_cflag & CSIZE) == CS8 && t.c_cc[VMIN] == 1 && t.c_cc[VTIME] == 0;
}

// Runs `child` in a forked process and returns its wait status.
template <typename F>
int in_child(F child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(99);  // child() was meant not to return
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(RawTerminal, LeavesAnFdThatIsNotATerminalAlone) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  RawTerminal terminal(read_end.get());
  EXPECT_FALSE(terminal.active());
}

TEST(RawTerminal, MakesAPtyRawAndRestoresItOnDestruction) {
  Pty pty = open_pty();
  termios original = attributes(pty.slave.get());
  ASSERT_FALSE(is_raw(original));
  {
    RawTerminal terminal(pty.slave.get());
    EXPECT_TRUE(terminal.active());
    termios raw = attributes(pty.slave.get());
    EXPECT_TRUE(is_raw(raw));
    EXPECT_EQ(raw.c_oflag, original.c_oflag);  // output processing is kept
  }
  expect_same_mode(attributes(pty.slave.get()), original);
}

TEST(RawTerminal, PassesEveryKeyThroughUnprocessed) {
  Pty pty = open_pty();
  RawTerminal terminal(pty.slave.get());
  const std::string keys =
      "\x03\x1a\x1d\r\x7f"
      "a";  // Ctrl-C, Ctrl-Z, Ctrl-], CR, DEL, a
  ASSERT_EQ(::write(pty.master.get(), keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  std::string received;
  while (received.size() < keys.size()) {
    pollfd p{pty.slave.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "no input without a newline: not raw";
    char buffer[16];
    ssize_t n = ::read(pty.slave.get(), buffer, sizeof buffer);
    ASSERT_GT(n, 0);
    received.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(received, keys);
  // Nothing echoed back to the master side.
  pollfd p{pty.master.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 50), 0);
}

TEST(RawTerminal, RestoreIsIdempotentAndEndsRawMode) {
  Pty pty = open_pty();
  termios original = attributes(pty.slave.get());
  RawTerminal terminal(pty.slave.get());
  terminal.restore();
  EXPECT_FALSE(terminal.active());
  expect_same_mode(attributes(pty.slave.get()), original);
  terminal.restore();
  expect_same_mode(attributes(pty.slave.get()), original);
}

TEST(RawTerminal, AllowsOnlyOneAtATime) {
  Pty pty = open_pty();
  RawTerminal first(pty.slave.get());
  EXPECT_THROW(RawTerminal second(pty.slave.get()), Error);
  first.restore();
  RawTerminal third(pty.slave.get());
  EXPECT_TRUE(third.active());
}

TEST(RawTerminal, RestoresTheTerminalFromASignalHandler) {
  Pty pty = open_pty();
  termios original = attributes(pty.slave.get());
  RawTerminal terminal(pty.slave.get());
  RawTerminal::restore_from_signal_handler();
  expect_same_mode(attributes(pty.slave.get()), original);
}

TEST(RawTerminal, RestoresTheTerminalWhenTheProcessExits) {
  Pty pty = open_pty();
  termios original = attributes(pty.slave.get());
  int status = in_child([&] {
    static RawTerminal* leaked = new RawTerminal(pty.slave.get());  // never destroyed
    ::termios now{};
    ::tcgetattr(pty.slave.get(), &now);
    if (!leaked->active() || !is_raw(now)) ::_exit(1);
    std::exit(0);
  });
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  expect_same_mode(attributes(pty.slave.get()), original);
}

TEST(RawTerminal, RestoresTheTerminalWhenKilledBySigtermOrSighup) {
  for (int signal : {SIGTERM, SIGHUP, SIGINT}) {
    SCOPED_TRACE(signal);
    Pty pty = open_pty();
    termios original = attributes(pty.slave.get());
    int status = in_child([&] {
      RawTerminal terminal(pty.slave.get());
      ::raise(signal);
      ::_exit(2);  // the signal should have killed us
    });
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    EXPECT_EQ(WTERMSIG(status), signal);
    expect_same_mode(attributes(pty.slave.get()), original);
  }
}

void ignore(int) {}

TEST(RawTerminal, LeavesHandlersItDidNotInstallAlone) {
  struct sigaction mine {
  }, previous{}, seen{};
  mine.sa_handler = ignore;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(::sigaction(SIGTERM, &mine, &previous), 0);
  Pty pty = open_pty();
  {
    RawTerminal terminal(pty.slave.get());
    ::sigaction(SIGTERM, nullptr, &seen);
    EXPECT_EQ(seen.sa_handler, ignore);
  }
  ::sigaction(SIGTERM, nullptr, &seen);
  EXPECT_EQ(seen.sa_handler, ignore);
  ::sigaction(SIGTERM, &previous, nullptr);
}

TEST(RawTerminal, PutsBackTheSignalActionsItReplacedWhenDone) {
  constexpr int kSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS};
  struct sigaction before[std::size(kSignals)]{};
  for (size_t i = 0; i < std::size(kSignals); ++i)
    ::sigaction(kSignals[i], nullptr, &before[i]);
  Pty pty = open_pty();
  {
    RawTerminal terminal(pty.slave.get());
    struct sigaction during {};
    ::sigaction(SIGTERM, nullptr, &during);
    EXPECT_NE(during.sa_handler, SIG_DFL);
  }
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction after {};
    ::sigaction(kSignals[i], nullptr, &after);
    EXPECT_EQ(after.sa_handler, before[i].sa_handler) << kSignals[i];
  }
}

// --- EscapeFilter ----------------------------------------------------------

struct Fed {
  std::string to_guest;
  bool escape;
};

Fed feed(EscapeFilter& filter, std::string input) {
  auto result = filter.feed(std::span(reinterpret_cast<uint8_t*>(input.data()), input.size()));
  return {std::string(result.to_guest.begin(), result.to_guest.end()), result.escape};
}

TEST(EscapeFilter, PassesOrdinaryInputThrough) {
  EscapeFilter filter;
  Fed fed = feed(filter, "echo hi\r\x03\x1b[A");
  EXPECT_EQ(fed.to_guest, "echo hi\r\x03\x1b[A");
  EXPECT_FALSE(fed.escape);
  EXPECT_FALSE(filter.pending());
}

TEST(EscapeFilter, HoldsALoneCtrlBracketUntilTheWindowExpiresThenDetaches) {
  EscapeFilter filter;
  Fed fed = feed(filter, "ls\x1d");
  EXPECT_EQ(fed.to_guest, "ls");
  EXPECT_FALSE(fed.escape);
  EXPECT_TRUE(filter.pending());
  EXPECT_TRUE(filter.expire());
  EXPECT_FALSE(filter.pending());
  EXPECT_FALSE(filter.expire());
}

TEST(EscapeFilter, DoubledCtrlBracketSendsOneToTheGuest) {
  EscapeFilter filter;
  Fed fed = feed(filter,
                 "a\x1d\x1d"
                 "b");
  EXPECT_EQ(fed.to_guest,
            "a\x1d"
            "b");
  EXPECT_FALSE(fed.escape);
  EXPECT_FALSE(filter.pending());
}

TEST(EscapeFilter, DoubledCtrlBracketMaySpanTwoReads) {
  EscapeFilter filter;
  EXPECT_EQ(feed(filter, "\x1d").to_guest, "");
  Fed fed = feed(filter, "\x1dz");
  EXPECT_EQ(fed.to_guest, "\x1dz");
  EXPECT_FALSE(fed.escape);
}

TEST(EscapeFilter, CtrlBracketThenAnotherKeyDetachesAndDropsTheRest) {
  EscapeFilter filter;
  Fed fed = feed(filter,
                 "ab\x1d"
                 "q-more");
  EXPECT_EQ(fed.to_guest, "ab");
  EXPECT_TRUE(fed.escape);
  EXPECT_FALSE(filter.pending());
}

TEST(EscapeFilter, CtrlBracketThenAnotherKeyInTheNextReadDetaches) {
  EscapeFilter filter;
  feed(filter, "\x1d");
  Fed fed = feed(filter, "\r");
  EXPECT_EQ(fed.to_guest, "");
  EXPECT_TRUE(fed.escape);
}

TEST(EscapeFilter, ThreeCtrlBracketsSendOneAndHoldTheThird) {
  EscapeFilter filter;
  Fed fed = feed(filter, "\x1d\x1d\x1d");
  EXPECT_EQ(fed.to_guest, "\x1d");
  EXPECT_FALSE(fed.escape);
  EXPECT_TRUE(filter.pending());
}

TEST(EscapeFilter, StartsOverAfterADetach) {
  EscapeFilter filter;
  EXPECT_TRUE(feed(filter, "\x1dx").escape);
  Fed fed = feed(filter, "after");
  EXPECT_EQ(fed.to_guest, "after");
  EXPECT_FALSE(fed.escape);
}

TEST(EscapeFilter, EmptyInputChangesNothing) {
  EscapeFilter filter;
  Fed fed = feed(filter, "");
  EXPECT_EQ(fed.to_guest, "");
  EXPECT_FALSE(fed.escape);
  feed(filter, "\x1d");
  EXPECT_FALSE(feed(filter, "").escape);
  EXPECT_TRUE(filter.pending());
}

}  // namespace
}  // namespace xpv::cli
