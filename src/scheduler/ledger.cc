// The run ledger's entries (heartlock/ledger.h): a RunRecord as a small JSON object, and the two
// calls that write and read them through the Store.
//
// The object's keys are short and stable (other versions of heartlock, and people with redis-cli,
// read them):
//
//   "state"  "running" | "done" | "failed" | "skipped" | "missed"        always present
//   "host"   string                                          "pid"    integer
//   "start"  integer, epoch milliseconds (UTC)               "end"    integer, epoch milliseconds
//   "exit"   integer exit status                             "sig"    integer signal number
//   "late"   integer milliseconds                            "tries"  integer
//   "token"  integer (unsigned 64-bit)                       "def"    string
//   "detail" string
//
// A key absent means its default (no time, no exit, 0, ""). The job and the slot are not in the
// object: the store keeps the entry under them, and RunRecordText carries them back. Keys this
// version does not know are ignored, so a newer writer stays readable; a known key with the wrong
// type makes the entry unreadable (it was not written by heartlock).
#include "heartlock/ledger.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace heartlock {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Epoch milliseconds beyond this (about year 2255) do not fit system_clock's nanoseconds: such an
// entry is refused rather than wrapped.
constexpr std::int64_t kMaxEpochMs = 9'000'000'000'000;

constexpr RunState kStates[] = {RunState::running, RunState::done, RunState::failed,
                                RunState::skipped, RunState::missed};

std::int64_t epoch_ms(RunRecord::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// The dumped object; invalid UTF-8 in a text field (a command's words) becomes U+FFFD rather than
// an exception.
std::string dump(const json& object) {
  return object.dump(-1, ' ', false, json::error_handler_t::replace);
}

json to_json(const RunRecord& r) {
  json j = json::object();
  j["state"] = std::string(to_string(r.state));
  if (!r.host.empty()) {
    j["host"] = r.host;
  }
  if (r.pid != 0) {
    j["pid"] = r.pid;
  }
  if (r.started) {
    j["start"] = epoch_ms(*r.started);
  }
  if (r.ended) {
    j["end"] = epoch_ms(*r.ended);
  }
  if (r.exit_code) {
    j["exit"] = *r.exit_code;
  }
  if (r.signal) {
    j["sig"] = *r.signal;
  }
  if (r.lateness.count() != 0) {
    j["late"] = r.lateness.count();
  }
  if (r.attempts != 0) {
    j["tries"] = r.attempts;
  }
  if (r.token) {
    j["token"] = *r.token;
  }
  if (!r.definition.empty()) {
    j["def"] = r.definition;
  }
  if (!r.detail.empty()) {
    j["detail"] = r.detail;
  }
  return j;
}

// `text` shortened by at least `excess` bytes (cut on a UTF-8 boundary, "..." appended to show
// it), or emptied when that leaves nothing. Always strictly shorter when not empty.
std::string shortened(const std::string& text, std::size_t excess) {
  constexpr std::string_view kMark = "...";
  if (text.size() <= excess + kMark.size()) {
    return {};
  }
  std::size_t cut = text.size() - excess - kMark.size();
  // Back up to the first byte of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80; ++i) {
    --cut;
  }
  return text.substr(0, cut) + std::string(kMark);
}

// RFC 3339 UTC, for messages (civil-calendar arithmetic: no gmtime_r and its time-zone lock).
std::string slot_text(std::chrono::sys_seconds slot) {
  auto day = std::chrono::floor<std::chrono::days>(slot);
  std::chrono::year_month_day ymd(day);
  std::chrono::hh_mm_ss hms(slot - day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buf;
}

Error unreadable(const RunRecordText& text, std::string_view why) {
  return Error{Errc::invalid_argument, "ledger entry of " + text.job + " at " +
                                           slot_text(text.slot) + ": " + std::string(why)};
}

// Reads the integer field `key` of `j` into `out` when present; false when it is present but not
// an integer within [lo, hi].
template <class Int>
bool read_int(const json& j, const char* key, std::int64_t lo, std::int64_t hi,
              std::optional<Int>& out) {
  auto it = j.find(key);
  if (it == j.end()) {
    return true;
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(hi)) {
      return false;
    }
    out = static_cast<Int>(v);
    return true;
  }
  if (!it->is_number_integer()) {
    return false;
  }
  auto v = it->get<std::int64_t>();
  if (v < lo || v > hi) {
    return false;
  }
  out = static_cast<Int>(v);
  return true;
}

bool read_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) {
    return true;
  }
  if (!it->is_string()) {
    return false;
  }
  out = it->get<std::string>();
  return true;
}

std::optional<RunState> state_named(std::string_view name) {
  for (RunState s : kStates) {
    if (to_string(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

// The fields other than the state; the name of the first bad key, or nullptr.
const char* read_fields(const json& j, RunRecord& r) {
  constexpr auto kIntMin = std::numeric_limits<int>::min();
  constexpr auto kIntMax = std::numeric_limits<int>::max();
  constexpr auto kI64Max = std::numeric_limits<std::int64_t>::max();
  std::optional<std::int64_t> pid, start, end, late;
  std::optional<int> tries;
  if (!read_string(j, "host", r.host)) {
    return "host";
  }
  if (!read_int(j, "pid", -kI64Max, kI64Max, pid)) {
    return "pid";
  }
  if (!read_int(j, "start", -kMaxEpochMs, kMaxEpochMs, start)) {
    return "start";
  }
  if (!read_int(j, "end", -kMaxEpochMs, kMaxEpochMs, end)) {
    return "end";
  }
  if (!read_int(j, "exit", kIntMin, kIntMax, r.exit_code)) {
    return "exit";
  }
  if (!read_int(j, "sig", kIntMin, kIntMax, r.signal)) {
    return "sig";
  }
  if (!read_int(j, "late", -kI64Max, kI64Max, late)) {
    return "late";
  }
  if (!read_int(j, "tries", kIntMin, kIntMax, tries)) {
    return "tries";
  }
  // Any unsigned 64-bit value is a token: read_int's bound is for signed values only.
  if (auto it = j.find("token"); it != j.end()) {
    if (!it->is_number_unsigned()) {
      return "token";
    }
    r.token = it->get<std::uint64_t>();
  }
  if (!read_string(j, "def", r.definition)) {
    return "def";
  }
  if (!read_string(j, "detail", r.detail)) {
    return "detail";
  }
  r.pid = pid.value_or(0);
  r.lateness = milliseconds(late.value_or(0));
  r.attempts = tries.value_or(0);
  if (start) {
    r.started = RunRecord::time_point(milliseconds(*start));
  }
  if (end) {
    r.ended = RunRecord::time_point(milliseconds(*end));
  }
  return nullptr;
}

}  // namespace

std::string_view to_string(RunState state) noexcept {
  switch (state) {
    case RunState::running:
      return "running";
    case RunState::done:
      return "done";
    case RunState::failed:
      return "failed";
    case RunState::skipped:
      return "skipped";
    case RunState::missed:
      return "missed";
  }
  return "unknown";
}

std::string encode_run_record(const RunRecord& record) {
  // The free text goes first when the entry is too large: the detail (a command's words), then the
  // host name, then the definition hash (normally 64 hex digits); the numbers always fit.
  RunRecord r = record;
  std::string* shrinkable[] = {&r.detail, &r.host, &r.definition};
  std::string out = dump(to_json(r));
  for (std::string* field : shrinkable) {
    while (out.size() > kMaxRunRecordBytes && !field->empty()) {
      *field = shortened(*field, out.size() - kMaxRunRecordBytes);
      out = dump(to_json(r));
    }
  }
  return out;
}

Result<RunRecord> decode_run_record(const RunRecordText& text) {
  if (text.data.size() > kMaxRunRecordBytes) {
    return std::unexpected(
        unreadable(text, "larger than " + std::to_string(kMaxRunRecordBytes) + " bytes"));
  }
  json j = json::parse(text.data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return std::unexpected(unreadable(text, "not a JSON object"));
  }
  auto state = j.find("state");
  if (state == j.end() || !state->is_string()) {
    return std::unexpected(unreadable(text, "no \"state\""));
  }
  RunRecord r{.job = text.job, .slot = text.slot};
  auto named = state_named(state->get_ref<const std::string&>());
  if (!named) {
    return std::unexpected(unreadable(text, "unknown state \"" + state->get<std::string>() + "\""));
  }
  r.state = *named;
  if (const char* bad = read_fields(j, r)) {
    return std::unexpected(unreadable(text, "bad \"" + std::string(bad) + "\""));
  }
  return r;
}

Result<void> record_run(Store& store, const RunRecord& record, std::chrono::seconds retention) {
  return store.put_run_record(record.job, record.slot, encode_run_record(record), retention);
}

Result<std::vector<RunRecord>> run_history(Store& store, std::string_view job, std::size_t limit) {
  auto texts = store.run_records(job, limit);
  if (!texts) {
    return std::unexpected(std::move(texts.error()));
  }
  std::vector<RunRecord> out;
  out.reserve(texts->size());
  for (const RunRecordText& text : *texts) {
    auto record = decode_run_record(text);
    if (record) {
      out.push_back(std::move(*record));
    } else {
      out.push_back(RunRecord{.job = text.job,
                              .slot = text.slot,
                              .state = RunState::failed,
                              .detail = "unreadable " + record.error().message});
    }
  }
  return out;
}

}  // namespace heartlock
