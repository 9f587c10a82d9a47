#include "cli/run_command.hpp"

#include <poll.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "base/unique_fd.hpp"
#include "domain/domain_builder.hpp"
#include "domain/kernel_image.hpp"
#include "kvm/kvm_system.hpp"
#include "vmm/domain.hpp"
#include "vmm/xenstore_service.hpp"

namespace xpv::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - start).count();
}

std::vector<uint8_t> read_ramdisk(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read ramdisk " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// SIGINT and SIGTERM are taken from a signalfd by the main thread, so no
// vCPU thread is ever interrupted by them.
UniqueFd block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) throw Error("cannot block SIGINT/SIGTERM");
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) throw SystemError("signalfd", errno);
  return UniqueFd(fd);
}

const char* signal_name(uint32_t signo) {
  return signo == SIGINT ? "SIGINT" : "SIGTERM";
}

// The first SIGINT or SIGTERM asks the guest to power off, as `xl
// shutdown` does, by writing control/shutdown in its xenstore; a second
// one, or a guest that is still up kShutdownGrace later, or one without a
// xenstore, is destroyed (`xl destroy`).
class TerminationPolicy {
 public:
  static constexpr auto kShutdownGrace = std::chrono::seconds(30);

  explicit TerminationPolicy(vmm::Domain& domain) : domain_(domain) {}

  void on_signal(uint32_t signo) {
    if (!requested() && domain_.xenstore() != nullptr &&
        domain_.xenstore()->request_shutdown("poweroff")) {
      deadline_ = Clock::now() + kShutdownGrace;
      std::fprintf(stderr, "xpv: %s: asked the guest to power off (again to destroy it)\n",
                   signal_name(signo));
      return;
    }
    domain_.end(vmm::DomainEnd::kDestroyed, std::string("destroyed by ") + signal_name(signo));
  }

  // How long poll may wait: forever until a shutdown was requested.
  int poll_timeout_ms() const {
    if (!requested()) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
  }

  void on_timeout() {
    if (requested() && Clock::now() >= deadline_)
      domain_.end(vmm::DomainEnd::kDestroyed, "did not power off within " +
                                                  std::to_string(kShutdownGrace.count()) +
                                                  " s of the request");
  }

 private:
  bool requested() const { return deadline_ != Clock::time_point::max(); }

  vmm::Domain& domain_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

void wait_for_end(vmm::Domain& domain, int signal_fd) {
  TerminationPolicy policy(domain);
  pollfd fds[2] = {{domain.end_event_fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
  while (!domain.ending()) {
    int ready = ::poll(fds, 2, policy.poll_timeout_ms());
    if (ready < 0 && errno != EINTR) throw SystemError("poll", errno);
    if (ready == 0) policy.on_timeout();
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == sizeof info) policy.on_signal(info.ssi_signo);
    }
  }
}

void print_stats(const vmm::Domain& domain, Clock::time_point start, Clock::time_point built,
                 Clock::time_point ended) {
  const auto& s = domain.stats();
  std::fprintf(stderr,
               "xpv: stats: built %.2f ms, first guest exit %.2f ms, ended %.2f ms; "
               "exits %llu, hypercalls %llu, page-table entries touched %llu, "
               "shadow resyncs %llu\n",
               ms_since(start, built), ms_since(start, s.first_entry.load()),
               ms_since(start, ended), static_cast<unsigned long long>(s.exits.load()),
               static_cast<unsigned long long>(s.hypercalls.load()),
               static_cast<unsigned long long>(s.entry_touches.load()),
               static_cast<unsigned long long>(s.shadow_resyncs.load()));
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Boot a PV kernel and run it on this console");
  run->add_option("-k,--kernel", o.domain.kernel, "PV kernel: ELF or bzImage")->required();
  run->add_option("-r,--ramdisk", o.domain.ramdisk, "initial ramdisk");
  run->add_option("-c,--cmdline", o.domain.cmdline, "kernel command line");
  run->add_option("-m,--memory", o.domain.memory_mib, "memory in MiB")->capture_default_str();
  run->add_option("--vcpus", o.domain.vcpus, "number of vCPUs")->capture_default_str();
  run->add_flag("--trace", o.domain.trace, "print one line per hypercall on stderr");
  run->add_flag("--stats", o.stats, "print timings and counters on stderr at the end");
  return run;
}

int run_domain(const RunOptions& options) {
  Clock::time_point start = Clock::now();
  try {
    UniqueFd signal_fd = block_termination_signals();
    domain::KernelImage kernel =
        domain::load_kernel_file(options.domain.kernel, domain::features_xpv_provides());
    std::vector<uint8_t> ramdisk = read_ramdisk(options.domain.ramdisk);
    kvm::KvmSystem kvm;
    vmm::Domain domain(kvm, options.domain);
    domain::build_pv_domain(domain, kernel, ramdisk, options.domain.cmdline);
    Clock::time_point built = Clock::now();
    domain.start();
    wait_for_end(domain, signal_fd.get());
    domain.join();
    if (options.stats) print_stats(domain, start, built, Clock::now());
    vmm::DomainEnd end = domain.end_state();
    if (end != vmm::DomainEnd::kPoweroff)
      std::fprintf(stderr, "xpv: domain %s: %s\n", vmm::describe(end), domain.end_reason().c_str());
    return vmm::exit_status_for(end);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xpv: %s\n", e.what());
    return vmm::exit_status::kXpvError;
  }
}

}  // namespace xpv::cli
