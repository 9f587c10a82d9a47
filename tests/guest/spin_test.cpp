// SIGINT and SIGTERM destroy a running domain: xpv exits with status 5
// promptly, even though the guest never stops on its own.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// xpv running in the background with its output on pipes, so that a test
// can signal it mid-run (run_xpv only returns once xpv has exited).
class BackgroundXpv {
 public:
  explicit BackgroundXpv(const std::vector<std::string>& args) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      // The signals under test must reach xpv with their default meaning,
      // whatever the test runner inherited.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      std::vector<std::string> storage = {build_path("xpv")};
      storage.insert(storage.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& arg : storage)
        argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    fds_[0] = {out[0], POLLIN, 0};
    fds_[1] = {err[0], POLLIN, 0};
  }

  ~BackgroundXpv() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (auto& fd : fds_)
      if (fd.fd >= 0) ::close(fd.fd);
  }

  bool started() const { return pid_ > 0; }

  // Reads output until stdout contains `text` or the timeout passes.
  bool wait_for_output(const std::string& text, milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
      if (Clock::now() >= deadline || !pump(deadline)) return false;
    }
    return true;
  }

  void send(int signal_number) { ::kill(pid_, signal_number); }

  // The exit status, or -1 if xpv did not exit normally within `timeout`.
  int wait_for_exit(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (pump(deadline)) {
    }
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() >= deadline) return -1;
      ::usleep(10'000);
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  // Appends whatever the pipes hold; false once both are closed or the
  // deadline passed.
  bool pump(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || (fds_[0].fd < 0 && fds_[1].fd < 0)) return false;
    if (::poll(fds_, 2, static_cast<int>(left)) <= 0) return true;
    std::string* sinks[2] = {&out_, &err_};
    for (int i = 0; i < 2; ++i) {
      if (fds_[i].fd < 0 || (fds_[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buffer[4096];
      ssize_t n = ::read(fds_[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else {
        ::close(fds_[i].fd);
        fds_[i].fd = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  pollfd fds_[2] = {{-1, 0, 0}, {-1, 0, 0}};
  std::string out_, err_;
};

constexpr milliseconds kBootTimeout{30'000};
constexpr milliseconds kPromptly{5'000};

void expect_signal_destroys_spinning_domain(int signal_number, const char* signal_name,
                                            const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/spin")};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  BackgroundXpv xpv(args);
  ASSERT_TRUE(xpv.started());
  ASSERT_TRUE(xpv.wait_for_output("spinning\n", kBootTimeout)) << xpv.out() << xpv.err();

  auto sent = Clock::now();
  xpv.send(signal_number);
  int status = xpv.wait_for_exit(kPromptly);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent);

  EXPECT_EQ(status, 5) << xpv.err();
  EXPECT_LT(took, kPromptly);
  EXPECT_THAT(xpv.err(), HasSubstr(std::string("destroyed by ") + signal_name)) << xpv.err();
}

TEST(SpinGuest, SigtermDestroysTheDomainWithStatus5) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGTERM, "SIGTERM", {});
}

TEST(SpinGuest, SigintDestroysTheDomainWithStatus5) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGINT, "SIGINT", {});
}

// The second vCPU never comes online; it must not hold up the exit.
TEST(SpinGuest, SigtermDestroysATwoVcpuDomain) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGTERM, "SIGTERM", {"--vcpus", "2"});
}

}  // namespace
}  // namespace xpv::test
