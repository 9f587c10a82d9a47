#include "guest/run_xpv.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <sstream>

namespace xpv::test {

std::string build_path(const std::string& relative) {
  return std::string(XPV_BUILD_DIR) + "/" + relative;
}

bool require_kvm() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << "guest tests need /dev/kvm, which cannot be opened here: "
                  << std::strerror(errno);
    return false;
  }
  ::close(fd);
  return true;
}

XpvRun run_xpv(const std::vector<std::string>& args, int timeout_seconds,
               const std::string& stdin_text) {
  int in[2], out[2], err[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0 || ::pipe(err) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      ::close(fd);
    std::vector<std::string> argv_storage = {build_path("xpv")};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (!stdin_text.empty()) {
    [[maybe_unused]] auto n = ::write(in[1], stdin_text.data(), stdin_text.size());
  }
  ::close(in[1]);

  XpvRun result;
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::seconds(timeout_seconds);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
        if (i == 0)
          result.out_arrivals.emplace_back(
              result.out.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      } else {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  ::close(err[0]);
  result.exit_status = (!killed && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return result;
}

double arrival_seconds(const XpvRun& run, size_t offset) {
  for (const auto& [size, seconds] : run.out_arrivals)
    if (offset < size) return seconds;
  return -1;
}

Verdict read_verdict(const std::string& out) {
  static const std::regex kSummary(R"((\d+) passed, (\d+) failed)");
  std::smatch match;
  if (!std::regex_search(out, match, kSummary)) return {};
  return {true, std::stoi(match[1]), std::stoi(match[2])};
}

std::string failures(const std::string& out) {
  std::istringstream lines(out);
  std::string line, result;
  while (std::getline(lines, line)) {
    if (line.starts_with("[ FAIL ]") || line.starts_with("  ")) result += line + "\n";
  }
  return result;
}

void expect_all_pass(const XpvRun& run, int min_passed) {
  Verdict verdict = read_verdict(run.out);
  ASSERT_TRUE(verdict.found) << "no summary line\nstdout:\n" << run.out << "\nstderr:\n" << run.err;
  EXPECT_GE(verdict.passed, min_passed) << run.out;
  EXPECT_EQ(verdict.failed, 0) << failures(run.out);
  EXPECT_EQ(run.exit_status, 0) << run.err;
}

}  // namespace xpv::test
