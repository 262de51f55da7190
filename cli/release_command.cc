#include <iostream>

#include "admin_commands.h"
#include "exit_codes.h"

namespace heartlock::cli {

int release_lock(const std::string& name, bool force, const CommonArgs& common) {
  Events events = make_events(common);
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  auto info = store->inspect(name);
  if (!info) {
    events.error(info.error().message);
    return exit_code_for(info.error());
  }
  std::cout << "lock " << info->name << ": " << describe_holder(*info) << "\n";
  if (info->state == LockState::free) {
    std::cout << "not held; nothing to release\n";
    return kExitOk;
  }
  const bool healthy = info->state == LockState::held && !info->min_hold_left;
  if (healthy && !force) {
    events.error("refusing to release " + name + ": its holder is alive" +
                 (info->holder && info->holder->foreign ? "" : " and renewing") +
                 " (use --force to break its lease anyway)");
    return kExitBusy;
  }
  std::uint64_t token = info->holder ? info->holder->token : 0;
  auto broken = store->break_lease(name, token);
  if (!broken) {
    events.error(broken.error().message);
    return broken.error().code == Errc::not_owner ? kExitBusy : exit_code_for(broken.error());
  }
  std::cout << "released " << name << " (lease token " << token << ")\n";
  return kExitOk;
}

}  // namespace heartlock::cli
