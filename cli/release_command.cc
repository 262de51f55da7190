#include <iostream>

#include "admin_commands.h"
#include "exit_codes.h"

namespace heartlock::cli {

int release_lock(const std::string& name, bool force, const CommonArgs& common,
                 const ReleaseExits& exits) {
  Events events = make_events(common);
  auto err = [&](int code) { return exits.error.value_or(code); };
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return err(code);
  }
  auto info = store->inspect(name);
  if (!info) {
    events.error(info.error().message);
    return err(exit_code_for(info.error()));
  }
  std::cout << "lock " << info->name << ": " << describe_holder(*info) << "\n";
  if (info->state == LockState::free) {
    std::cout << "not held; nothing to release\n";
    return exits.done;
  }
  const bool healthy = info->state == LockState::held && !info->min_hold_left;
  if (healthy && !force) {
    events.error("refusing to release " + name + ": its holder is alive" +
                 (info->holder && info->holder->foreign ? "" : " and renewing") + " (" +
                 exits.force_hint + " to break its lease anyway)");
    return exits.refused;
  }
  auto broken = store->break_lease(*info);
  if (!broken) {
    events.error(broken.error().message);
    return broken.error().code == Errc::not_owner ? exits.refused
                                                  : err(exit_code_for(broken.error()));
  }
  std::uint64_t token = info->holder ? info->holder->token : 0;
  std::cout << "released " << name
            << (token > 0 ? " (lease token " + std::to_string(token) + ")" : std::string()) << "\n";
  return exits.done;
}

}  // namespace heartlock::cli
