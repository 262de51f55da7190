// The CLI's --help: each subcommand's help lists the global options and ends with its own footer
// (its exit codes), not the top-level one.
#ifndef HEARTLOCK_CLI_HELP_H_
#define HEARTLOCK_CLI_HELP_H_

#include <CLI/CLI.hpp>

namespace heartlock::cli {

// Sets the footers of `app` and of each of its subcommands, and a formatter that prints the
// global options (those of `app`) in every subcommand's help. Call after every subcommand and
// global option is added.
void install_help(CLI::App& app);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_HELP_H_
