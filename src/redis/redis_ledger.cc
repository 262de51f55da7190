// RedisStore's run ledger (Store::put_run_record, Store::run_records): entries and their indexes
// as layout.h describes, written and read by the ledger scripts (scripts.h); on Redlock written
// to every node and read from every node, then merged.
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "../core/io_deadline.h"
#include "../core/ledger_rules.h"
#include "redis_store.h"
#include "redlock_quorum.h"
#include "reply_values.h"

namespace heartlock::detail {
namespace {

// Entries asked of a node per script call: 256 entries of at most 4 KiB keep a reply near 1 MiB,
// far below what a connection accepts (connection.h), whatever `limit` the caller gives.
constexpr std::size_t kPageEntries = 256;

// The slot an index member names (its text up to '@', or all of it); nullopt if not an epoch.
std::optional<long long> member_slot(std::string_view member) {
  const std::string_view epoch = member.substr(0, member.find('@'));
  long long slot = 0;
  auto [end, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), slot);
  if (epoch.empty() || ec != std::errc() || end != epoch.data() + epoch.size()) {
    return std::nullopt;
  }
  return slot;
}

// Appends the entries of one page (the run_records script's reply) to `out`; whether the index
// has no more. Errc::unavailable for a reply of another shape.
Result<bool> read_page(const RedisReply& reply, std::string_view job, const std::string& where,
                       std::vector<RunRecordText>& out, long long& next) {
  const auto& e = reply.elements;
  if (reply.type != RedisReply::Type::array || e.size() < 2 || e.size() % 2 != 0) {
    return fail(Errc::unavailable, "redis " + where + ": the run-ledger script answered " +
                                       std::to_string(e.size()) + " values");
  }
  next = integer_of(e[0]);
  for (std::size_t i = 2; i < e.size(); i += 2) {
    const std::string& member = e[i].str;
    auto slot = member_slot(member);
    if (!slot) {
      return fail(Errc::unavailable, "redis " + where + ": run-ledger index member '" +
                                         member.substr(0, 40) + "' names no slot");
    }
    const std::size_t at = member.find('@');
    out.push_back(RunRecordText{
        .job = job.empty() ? member.substr(at + 1) : std::string(job),
        .slot = std::chrono::sys_seconds(std::chrono::seconds(*slot)),
        .data = e[i + 1].str,
    });
  }
  return integer_of(e[1]) == 1;
}

// The entries of several nodes as one list (unsorted). An entry a node lacks or holds differently
// is taken as the most nodes hold it -- a majority's value whenever one exists, so a write that
// reached a majority wins over a later one that reached only a minority -- (ties: any).
std::vector<RunRecordText> merge_nodes(const std::vector<std::vector<RunRecordText>>& answers) {
  using Key = std::pair<std::string, long long>;
  std::map<Key, std::map<std::string, std::size_t>> votes;
  for (const auto& node : answers) {
    for (const auto& r : node) {
      ++votes[{r.job, r.slot.time_since_epoch().count()}][r.data];
    }
  }
  std::vector<RunRecordText> out;
  out.reserve(votes.size());
  for (const auto& [key, values] : votes) {
    auto best = std::max_element(values.begin(), values.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    out.push_back(RunRecordText{.job = key.first,
                                .slot = std::chrono::sys_seconds(std::chrono::seconds(key.second)),
                                .data = best->first});
  }
  return out;
}

}  // namespace

Result<void> RedisStore::put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                                        std::string_view data, std::chrono::seconds retention) {
  if (auto ok = check_run_record(job, retention, data); !ok) {
    return ok;
  }
  if (auto ok = layout_.check_name(job); !ok) {
    return ok;
  }
  const long long epoch = slot.time_since_epoch().count();
  const std::vector<std::string> keys = {layout_.run_key(job, epoch), layout_.run_index_key(job),
                                         layout_.all_runs_index_key()};
  const std::vector<std::string> args = {
      std::string(data),     std::to_string(epoch),  std::to_string(retention.count()),
      std::string(job),      layout_.run_key_head(), layout_.run_key_middle(),
      std::to_string(-epoch)};
  auto answers =
      run_on_all(nodes_, put_run_record_script(), keys, args, RedisClient::Patience::patient);
  std::size_t written = 0;
  const Error* first_error = nullptr;
  for (const auto& a : answers) {
    if (a) {
      ++written;
    } else if (first_error == nullptr) {
      first_error = &a.error();
    }
  }
  if (written >= quorum()) {
    return {};
  }
  if (nodes_.size() == 1) {
    return std::unexpected(*first_error);
  }
  return fail(Errc::unavailable,
              "Redlock " + url_ + ": the run record of " + std::string(job) + " was written on " +
                  std::to_string(written) + " of " + std::to_string(nodes_.size()) + " nodes and " +
                  std::to_string(quorum()) + " are needed: " + first_error->message);
}

Result<std::vector<RunRecordText>> RedisStore::node_run_records(RedisClient& node,
                                                                std::string_view job,
                                                                std::size_t limit) {
  const std::string index = job.empty() ? layout_.all_runs_index_key() : layout_.run_index_key(job);
  std::vector<RunRecordText> out;
  long long start = 0;
  while (out.size() < limit) {
    const std::size_t want = std::min(kPageEntries, limit - out.size());
    auto reply = node.run(run_records_script(), {index},
                          {std::to_string(start), std::to_string(want), std::string(job),
                           layout_.run_key_head(), layout_.run_key_middle()},
                          RedisClient::Patience::patient);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto done = read_page(*reply, job, node.where(), out, start);
    if (!done) {
      return std::unexpected(done.error());
    }
    if (*done) {
      break;
    }
  }
  return out;
}

Result<std::vector<RunRecordText>> RedisStore::run_records(std::string_view job,
                                                           std::size_t limit) {
  if (auto ok = check_run_query(job); !ok) {
    return std::unexpected(ok.error());
  }
  if (!job.empty()) {
    if (auto ok = layout_.check_name(job); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (limit == 0) {
    return std::vector<RunRecordText>();
  }
  // Each node's first `limit` in the ledger's order: an entry among the merged list's first
  // `limit` is among the first `limit` of every node holding it (whatever a node lists before it
  // is in the merged list too, and before it), so nothing the answer needs is cut off.
  std::vector<std::vector<RunRecordText>> answers;
  std::optional<Error> first_error;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    ScopedIoDeadline share(node_share(i, nodes_.size()));
    auto r = node_run_records(*nodes_[i], job, limit);
    if (!r) {
      first_error = first_error ? first_error : r.error();
      continue;
    }
    answers.push_back(std::move(*r));
  }
  if (answers.size() < quorum()) {
    if (nodes_.size() == 1) {
      return std::unexpected(*first_error);
    }
    return fail(Errc::unavailable,
                "Redlock " + url_ + ": only " + std::to_string(answers.size()) + " of " +
                    std::to_string(nodes_.size()) + " nodes answered for the run ledger and " +
                    std::to_string(quorum()) + " are needed: " + first_error->message);
  }
  std::vector<RunRecordText> out =
      answers.size() == 1 ? std::move(answers.front()) : merge_nodes(answers);
  order_run_records(out, limit);
  return out;
}

}  // namespace heartlock::detail
