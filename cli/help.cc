#include "help.h"

#include <memory>
#include <string>
#include <string_view>

namespace heartlock::cli {
namespace {

constexpr std::string_view kBackends =
    R"(Backends: file:///dir or a directory (default: $HEARTLOCK_DIR, /run/lock/heartlock,
$XDG_RUNTIME_DIR/heartlock or /tmp/heartlock-UID); redis://, rediss://, redis-sentinel://,
postgres://, postgresql://, etcd://, etcds://. Set with -b or HEARTLOCK_BACKEND.)";

constexpr std::string_view kDurations =
    "Durations: 500ms, 30s, 1.5s, 5m, 2h, 1d, or sums such as 1h30m (to the millisecond).";

constexpr std::string_view kRunExits =
    R"(Exit codes: COMMAND's own status when it ran (128+N if signal N ended it);
  75  the lock is held by someone else (change with -E)
  79  the lease was lost while COMMAND ran; COMMAND's process group was stopped
  124 --timeout expired; COMMAND's process group was stopped
  126 COMMAND could not be executed; 127 COMMAND was not found
  64  usage error (bad option, duration, name, missing COMMAND)
  69  backend unavailable, permission denied, or another lock error
  70  internal error)";

constexpr std::string_view kAdminExits =
    "Exit codes: 0 done; 64 usage error; 69 backend unavailable, permission denied or another "
    "lock\nerror; 70 internal error.";

constexpr std::string_view kMetricsExits =
    "Exit codes: 0 written; 64 usage error; 69 the store cannot be read (the output still says\n"
    "heartlock_store_up 0); 73 the -o file cannot be written; 70 internal error.";

constexpr std::string_view kStatusExits =
    "Exit codes: 0 done; 64 usage error; 69 backend unavailable, permission denied or another "
    "lock\nerror; 70 internal error. --watch: 0 after q, 128+N after signal N (Ctrl-C: 130).";

constexpr std::string_view kReleaseExits =
    "Exit codes: 0 released, or nothing to release; 75 the holder is alive (no --force) or the\n"
    "lease changed meanwhile; 64 usage error; 69 backend unavailable or another lock error; 70\n"
    "internal error.";

constexpr std::string_view kCronExits =
    "Exit codes: --check FILE: 0 valid, 64 invalid (FILE:LINE: what, on stderr), 66 unreadable.\n"
    "The daemon: 0 after SIGTERM or SIGINT; 64 usage error or invalid FILE; 66 FILE unreadable;\n"
    "69 backend unavailable.";

constexpr std::string_view kCronlockExits =
    "Exit codes, as cronlock's: COMMAND's status, 200 not acquired (or reset done), 201 error,\n"
    "202 CRONLOCK_TIMEOUT expired.";

constexpr std::string_view kScheduleExits = "Exit codes: 0 done; 64 usage error.";

constexpr std::string_view kHeartbeatExits =
    "Exit codes: 0 sent; 64 not inside `heartlock run --heartbeat explicit`; 69 the wrapper\n"
    "cannot be reached.";

// The top-level help: every subcommand's exit codes in one place, as before.
constexpr std::string_view kMainExits =
    R"(Exit codes of `heartlock run`: COMMAND's own status when it ran (128+N if signal N ended it);
  75  the lock is held by someone else (change with -E)
  79  the lease was lost while COMMAND ran; COMMAND's process group was stopped
  124 --timeout expired; COMMAND's process group was stopped
  126 COMMAND could not be executed; 127 COMMAND was not found
  64  usage error (bad option, duration, name, missing COMMAND)
  69  backend unavailable, permission denied, or another lock error
  70  internal error
`heartlock cron --check FILE`: 0 valid, 64 invalid (FILE:LINE: what, on stderr), 66 unreadable.
`heartlock cronlock` (and the binary called as `cronlock`) exits as cronlock does: COMMAND's
status, 200 not acquired (or reset done), 201 error, 202 CRONLOCK_TIMEOUT expired.
Logs: --log-format json and --syslog are described in heartlock(1) and docs/logging.md.)";

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    out += (out.empty() ? "" : "\n") + std::string(part);
  }
  return out;
}

// A subcommand's footer; one not named here (a new subcommand) gets the backends and the
// generic exit codes.
std::string footer_for(std::string_view name) {
  if (name == "run") {
    return join({kBackends, kDurations, "", kRunExits});
  }
  if (name == "cron") {
    return join({kBackends, kDurations, "", kCronExits});
  }
  if (name == "cronlock") {
    return join(
        {"Settings: the CRONLOCK_* variables, as cronlock reads them.", "", kCronlockExits});
  }
  if (name == "schedule") {
    return std::string(kScheduleExits);
  }
  if (name == "heartbeat") {
    return std::string(kHeartbeatExits);
  }
  if (name == "metrics") {
    return join({kBackends, "", kMetricsExits});
  }
  if (name == "status") {
    return join({kBackends, "", kStatusExits});
  }
  if (name == "release") {
    return join({kBackends, "", kReleaseExits});
  }
  return join({kBackends, "", kAdminExits});
}

// CLI11's formatter, plus a "Global options:" group in a subcommand's help: the options of the
// top-level app, which are accepted after the subcommand's name too (fallthrough). Without it a
// user reading `heartlock run --help` never learns of -b, -q, -v or the log options.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_footer(const CLI::App* app) const override {
    const CLI::App* parent = app->get_parent();
    std::string globals;
    if (parent != nullptr) {
      auto options = parent->get_options([parent](const CLI::Option* opt) {
        return opt->nonpositional() && opt != parent->get_help_ptr() &&
               opt != parent->get_help_all_ptr() && opt->get_name() != "--version";
      });
      if (!options.empty()) {
        globals = make_group("Global options", false, options).substr(1) + "\n";
      }
    }
    return globals + CLI::Formatter::make_footer(app);
  }
};

}  // namespace

void install_help(CLI::App& app) {
  auto formatter = std::make_shared<HelpFormatter>();
  app.formatter(formatter);
  app.footer(join({std::string(kBackends), std::string(kDurations), "", std::string(kMainExits)}));
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->formatter(formatter);
    sub->footer(footer_for(sub->get_name()));
  }
}

}  // namespace heartlock::cli
