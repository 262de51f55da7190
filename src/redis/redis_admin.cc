// RedisStore's administration: list every lock under the prefix, and break a lease (`heartlock
// release --force`), including a lock cronlock wrote.
#include <set>

#include "redis_store.h"
#include "redlock_quorum.h"
#include "reply_values.h"

namespace heartlock::detail {
namespace {

using Patience = RedisClient::Patience;

// Each SCAN is bounded by the timeout, but a server (or an impostor on its port) that never
// ends the iteration, or names without end, must not hold `status` forever or fill the memory:
// 100000 rounds of 500 cover 50 million keys under the prefix.
constexpr int kMaxRounds = 100'000;
constexpr std::size_t kMaxNames = 1'000'000;

// Adds the names of the locks `node` has keys of to `names`; false (and why, to `errors`) if the
// node did not answer the whole SCAN.
bool scan_node(RedisClient& node, const RedisLayout& layout, const std::string& url,
               std::set<std::string>& names, std::vector<Error>& errors) {
  std::string cursor = "0";
  int rounds = 0;
  do {
    if (++rounds > kMaxRounds || names.size() > kMaxNames) {
      errors.push_back(Error{Errc::unavailable, "redis: SCAN of " + url + " did not finish after " +
                                                    std::to_string(rounds - 1) + " rounds and " +
                                                    std::to_string(names.size()) +
                                                    " names; giving up"});
      return false;
    }
    auto r = node.commands({{"SCAN", cursor, "MATCH", layout.scan_pattern(), "COUNT", "500"}},
                           Patience::patient);
    if (!r || r->front().is_error() || r->front().elements.size() != 2) {
      errors.push_back(!r ? r.error()
                          : Error{Errc::unavailable, "redis: SCAN failed: " + r->front().str});
      return false;
    }
    const RedisReply& reply = r->front();
    cursor = reply.elements[0].str;
    for (const auto& key : reply.elements[1].elements) {
      if (auto name = layout.name_of(key.str)) {
        names.insert(*name);
      }
    }
  } while (cursor != "0");
  return true;
}

}  // namespace

Result<std::vector<LockInfo>> RedisStore::list() {
  // Every name that was ever locked has a fencing counter (or, cronlock's, a key): list those,
  // like lock files.
  std::set<std::string> names;
  std::vector<Error> errors;
  std::size_t answered = 0;
  for (const auto& node : nodes_) {
    answered += scan_node(*node, layout_, url_, names, errors) ? 1 : 0;
  }
  if (answered < quorum()) {
    return std::unexpected(errors.front());
  }
  std::vector<LockInfo> out;
  for (const auto& name : names) {
    // A key heartlock cannot read (a name it would refuse, a server error) is listed with why,
    // never left out.
    auto info = inspect(name);
    out.push_back(info ? std::move(*info)
                       : LockInfo{.name = name,
                                  .state = LockState::unknown,
                                  .location = location(name),
                                  .detail = info.error().message});
  }
  return out;
}

Result<void> RedisStore::run_break(std::string_view name, std::uint64_t token,
                                   const std::string& value) {
  auto answers = run_on_all(nodes_, layout_.scripts().break_lease, layout_.keys(name),
                            {std::to_string(token), value}, Patience::patient);
  std::size_t ended = 0;
  const Error* first_error = nullptr;
  for (const auto& a : answers) {
    if (!a) {
      first_error = first_error != nullptr ? first_error : &a.error();
    } else {
      ended += integer_of(*a) == 1 ? 1 : 0;
    }
  }
  if (ended > 0) {
    return {};
  }
  if (first_error != nullptr) {
    return std::unexpected(*first_error);
  }
  return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                   std::to_string(token) + "; nothing changed");
}

Result<void> RedisStore::break_lock(std::string_view name, std::uint64_t token) {
  return run_break(name, token, "");
}

Result<void> RedisStore::break_lease(const LockInfo& seen) {
  if (seen.holder && seen.holder->foreign && seen.holder->owner.starts_with("cronlock:")) {
    // A lock cronlock wrote: fenced by the exact value seen.
    if (auto ok = check_name(seen.name); !ok) {
      return std::unexpected(ok.error());
    }
    return run_break(seen.name, 0, seen.holder->owner.substr(9));
  }
  return Store::break_lease(seen);
}

}  // namespace heartlock::detail
