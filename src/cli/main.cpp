// xpv: run Xen PV guests on KVM. The command set follows Xen's `xl`.
#include <CLI/CLI.hpp>

#include "cli/run_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"xpv: Xen paravirtualization on KVM", "xpv"};
  app.require_subcommand(1);
  xpv::cli::RunOptions run_options;
  CLI::App* run = xpv::cli::add_run_command(app, run_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 1;  // a usage error is an xpv error (README "Exit status")
  }
  if (run->parsed()) return xpv::cli::run_domain(run_options);
  return 1;
}
