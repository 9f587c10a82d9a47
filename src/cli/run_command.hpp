// `xpv run`: build one PV domain from a kernel, run it on the console,
// and exit with a status that says how it ended (README "Exit status").
#pragma once

#include <CLI/CLI.hpp>

#include "vmm/domain_config.hpp"

namespace xpv::cli {

struct RunOptions {
  vmm::DomainConfig domain;
  bool stats = false;
};

CLI::App* add_run_command(CLI::App& app, RunOptions& options);
int run_domain(const RunOptions& options);

}  // namespace xpv::cli
