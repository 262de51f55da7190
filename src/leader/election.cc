// Election and the leader mark: a campaign is Store::acquire without a time limit.
#include <utility>

#include "heartlock/leader.h"

namespace heartlock {
namespace {

constexpr std::string_view kMark = "leader of ";

}  // namespace

Leadership::Leadership(Lease lease) noexcept : lease_(std::move(lease)) {}

std::string leader_command(std::string_view name, std::string_view command) {
  std::string out(kMark);
  out += name;
  if (!command.empty()) {
    out += ": ";
    out += command;
  }
  return out;
}

bool is_leader_lock(const LockInfo& info) noexcept {
  if (!info.holder || info.holder->foreign) {
    return false;
  }
  // The whole mark, name included: an ordinary lock whose command merely starts with the words
  // "leader of" (a command line) is not taken for one.
  std::string_view command = info.holder->command;
  if (!command.starts_with(kMark)) {
    return false;
  }
  command.remove_prefix(kMark.size());
  if (!command.starts_with(info.name)) {
    return false;
  }
  command.remove_prefix(info.name.size());
  return command.empty() || command.starts_with(": ");
}

Election::Election(Store& store, std::string name, LeaseOptions options)
    : store_(store), name_(std::move(name)), options_(std::move(options)) {
  options_.command = leader_command(name_, options_.command);
}

Result<std::optional<Leadership>> Election::campaign(std::stop_token stop) {
  // Without keepalive the lease's deadline is timed by nobody, and a leader could act past it:
  // the one guarantee of an election would be gone.
  if (!options_.keepalive) {
    return fail(Errc::invalid_argument,
                "election " + name_ + ": a leader's lease needs keepalive (its deadline timer)");
  }
  // acquire() with kWaitForever comes back busy only when stopped; should a backend ever return
  // busy otherwise, the campaign goes on waiting.
  for (;;) {
    auto got = store_.acquire(name_, options_, kWaitForever, stop);
    if (!got) {
      return std::unexpected(std::move(got.error()));
    }
    if (got->acquired()) {
      return std::optional<Leadership>(Leadership(std::move(*got).lease()));
    }
    if (stop.stop_requested()) {
      return std::optional<Leadership>();
    }
  }
}

Result<std::optional<Holder>> Election::leader() {
  auto info = store_.inspect(name_);
  if (!info) {
    return std::unexpected(std::move(info.error()));
  }
  if (info->state != LockState::held || !info->holder) {
    return std::optional<Holder>();
  }
  return std::optional<Holder>(std::move(info->holder));
}

}  // namespace heartlock
