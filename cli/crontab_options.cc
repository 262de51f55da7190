#include "crontab_options.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>

#include "heartlock/duration.h"
#include "heartlock/store.h"

#include "stop_rule.h"

namespace heartlock::cli::detail {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kBlanks = " \t";

// Room left in a lock name for the suffixes the scheduler adds ("<job>@claim").
constexpr std::size_t kMaxJobNameLength = kMaxNameLength - 16;

using Errors = std::vector<CrontabError>;

void bad(Errors& errors, const DirectiveWord& w, const std::string& why) {
  errors.push_back({w.line, w.key + "=" + w.value + ": " + why});
}

std::optional<milliseconds> duration_of(const DirectiveWord& w, Errors& errors) {
  auto d = parse_duration(w.value);
  if (!d) {
    errors.push_back({w.line, w.key + ": " + d.error().message});
    return std::nullopt;
  }
  return *d;
}

// A duration, or "none" (0).
std::optional<milliseconds> duration_or_none(const DirectiveWord& w, Errors& errors) {
  return w.value == "none" ? std::optional(milliseconds(0)) : duration_of(w, errors);
}

std::optional<long> integer_of(const DirectiveWord& w, long lo, long hi, Errors& errors) {
  long n = 0;
  const char* end = w.value.data() + w.value.size();
  auto [p, ec] = std::from_chars(w.value.data(), end, n);
  if (ec != std::errc() || p != end || n < lo || n > hi) {
    bad(errors, w, "not a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return std::nullopt;
  }
  return n;
}

// The value's index in `choices`, or nullopt (the error names them).
std::optional<std::size_t> choice_of(const DirectiveWord& w,
                                     std::initializer_list<std::string_view> choices,
                                     Errors& errors) {
  std::size_t i = 0;
  std::string all;
  for (auto c : choices) {
    if (w.value == c) {
      return i;
    }
    all += (i++ == 0 ? "" : " | ") + std::string(c);
  }
  bad(errors, w, "expected " + all);
  return std::nullopt;
}

// Sets the option `w` names; false for an unknown key.
bool apply(const DirectiveWord& w, JobSettings& s, Errors& errors) {
  CrontabOptions& o = s.options;
  const std::string& k = w.key;
  if (k == "name") {
    if (auto ok = validate_name(w.value); !ok) {
      bad(errors, w, ok.error().message);
    } else if (w.value.size() > kMaxJobNameLength) {
      bad(errors, w, "longer than " + std::to_string(kMaxJobNameLength) + " bytes");
    } else {
      s.name = w.value;
    }
  } else if (k == "ttl") {
    o.ttl = duration_of(w, errors).value_or(o.ttl);
  } else if (k == "timeout") {
    if (auto d = duration_or_none(w, errors)) {
      o.timeout = d->count() > 0 ? std::optional(*d) : std::nullopt;
    }
  } else if (k == "kill-grace") {
    o.kill_grace = duration_of(w, errors).value_or(o.kill_grace);
  } else if (k == "stale-after") {
    o.stale_after = duration_or_none(w, errors).value_or(o.stale_after);
  } else if (k == "heartbeat") {
    constexpr exec::HeartbeatMode kModes[] = {
        exec::HeartbeatMode::alive, exec::HeartbeatMode::explicit_, exec::HeartbeatMode::output};
    if (auto i = choice_of(w, {"alive", "explicit", "output"}, errors)) {
      o.heartbeat = kModes[*i];
    }
  } else if (k == "concurrency") {
    constexpr Concurrency kPolicies[] = {Concurrency::forbid, Concurrency::allow,
                                         Concurrency::replace};
    if (auto i = choice_of(w, {"forbid", "allow", "replace"}, errors)) {
      o.concurrency = kPolicies[*i];
    }
  } else if (k == "missed") {
    constexpr MissedPolicy kPolicies[] = {MissedPolicy::skip, MissedPolicy::run_once,
                                          MissedPolicy::run_all};
    if (auto i = choice_of(w, {"skip", "run-once", "run-all"}, errors)) {
      o.missed = kPolicies[*i];
    }
  } else if (k == "grace") {
    if (auto d = duration_of(w, errors); d && d->count() % 1000 != 0) {
      bad(errors, w, "whole seconds only");
    } else if (d) {
      o.grace = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
  } else if (k == "max-runs") {
    o.max_runs = static_cast<std::size_t>(integer_of(w, 1, 1000, errors).value_or(10));
  } else if (k == "jitter") {
    o.jitter = duration_of(w, errors).value_or(o.jitter);
  } else if (k == "retries") {
    o.retries = static_cast<int>(integer_of(w, 0, 100, errors).value_or(0));
  } else if (k == "once-per-slot") {
    if (auto i = choice_of(w, {"yes", "no"}, errors)) {
      o.once_per_slot = *i == 0;
    }
  } else {
    return false;
  }
  return true;
}

// The checks `heartlock run` makes of its lease options (run_command.cc), and the effective kill
// grace.
void check_lease(JobSettings& s, const std::map<std::string, std::size_t>& lines,
                 std::size_t job_line, Errors& errors) {
  auto line_of = [&](const char* key) {
    auto it = lines.find(key);
    return it == lines.end() ? job_line : it->second;
  };
  CrontabOptions& o = s.options;
  if (o.heartbeat != exec::HeartbeatMode::alive && o.stale_after.count() == 0) {
    errors.push_back(
        {line_of("heartbeat"),
         "heartbeat=" +
             std::string(o.heartbeat == exec::HeartbeatMode::output ? "output" : "explicit") +
             " needs stale-after: without it a missing heartbeat would never count"});
  }
  // As LeaseOptions' durations: longer is a mistake, and deadlines computed from it stay small.
  for (auto [key, value] :
       {std::pair{"timeout", o.timeout.value_or(milliseconds(0))}, std::pair{"jitter", o.jitter},
        std::pair{"grace", milliseconds(o.grace)}}) {
    if (value > kMaxDuration) {
      errors.push_back({line_of(key), std::string(key) + ": longer than a year and a day"});
    }
  }
  const bool grace_given = lines.contains("kill-grace");
  LeaseOptions lease{.ttl = o.ttl, .stale_after = o.stale_after};
  lease.kill_grace = grace_given ? o.kill_grace : milliseconds(0);
  if (auto ok = validate(lease); !ok) {
    const char* key = lines.contains("stale-after") ? "stale-after" : "ttl";
    errors.push_back({line_of(key), ok.error().message});
    return;
  }
  if (!grace_given) {
    o.kill_grace = std::min(kDefaultKillGrace, max_kill_grace(lease));
  } else if (o.kill_grace > max_kill_grace(lease)) {
    errors.push_back({line_of("kill-grace"),
                      "kill-grace=" + format_duration(o.kill_grace) +
                          " is too long for this lease: " + explain_max_kill_grace(lease) +
                          ". Shorten kill-grace or lengthen stale-after/ttl (ttl is " +
                          format_duration(LeaseOptions{}.ttl) + " unless given)"});
  }
}

}  // namespace

std::optional<std::string_view> directive_body(std::string_view text) {
  text.remove_prefix(std::min(text.find_first_not_of(kBlanks), text.size()));
  if (!text.starts_with('#')) {
    return std::nullopt;
  }
  text.remove_prefix(1);
  text.remove_prefix(std::min(text.find_first_not_of(kBlanks), text.size()));
  constexpr std::string_view kTag = "heartlock:";
  if (!text.starts_with(kTag)) {
    return std::nullopt;
  }
  return text.substr(kTag.size());
}

void parse_directive(std::string_view body, std::size_t line, std::vector<DirectiveWord>& words,
                     Errors& errors) {
  while (true) {
    const auto start = body.find_first_not_of(kBlanks);
    if (start == std::string_view::npos) {
      return;
    }
    body.remove_prefix(start);
    const auto end = std::min(body.find_first_of(kBlanks), body.size());
    const std::string_view word = body.substr(0, end);
    body.remove_prefix(end);
    const auto eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      errors.push_back({line, "heartlock directive: \"" + std::string(word) +
                                  "\" is not key=value (values have no blanks)"});
      continue;
    }
    DirectiveWord w{std::string(word.substr(0, eq)), std::string(word.substr(eq + 1)), line};
    if (std::ranges::any_of(words, [&](const DirectiveWord& o) { return o.key == w.key; })) {
      errors.push_back({line, "heartlock directive: " + w.key + " is given twice for this job"});
      continue;
    }
    words.push_back(std::move(w));
  }
}

JobSettings job_settings(const std::vector<DirectiveWord>& words, std::size_t job_line,
                         Errors& errors) {
  JobSettings s;
  std::map<std::string, std::size_t> lines;
  for (const auto& w : words) {
    if (!apply(w, s, errors)) {
      errors.push_back(
          {w.line, "heartlock directive: unknown key \"" + w.key +
                       "\" (known: name ttl timeout kill-grace stale-after heartbeat concurrency "
                       "missed grace max-runs jitter retries once-per-slot)"});
      continue;
    }
    lines[w.key] = w.line;
  }
  check_lease(s, lines, job_line, errors);
  return s;
}

}  // namespace heartlock::cli::detail

namespace heartlock::cli {
namespace {

// A duration exactly, in the largest units first: "1d2h3m4s5ms", "30s", "0s". (format_duration
// rounds to two units, which would hide a changed value from the definition hash.)
std::string exact_duration(std::chrono::milliseconds d) {
  static constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  std::int64_t ms = d.count();
  if (ms <= 0) {
    return ms == 0 ? "0s" : format_duration(d);
  }
  std::string out;
  for (const auto& [unit, name] : kUnits) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + name;
      ms %= unit;
    }
  }
  return out;
}

std::string_view heartbeat_word(exec::HeartbeatMode mode) {
  switch (mode) {
    case exec::HeartbeatMode::alive:
      return "alive";
    case exec::HeartbeatMode::explicit_:
      return "explicit";
    case exec::HeartbeatMode::output:
      return "output";
  }
  return "alive";
}

std::string_view concurrency_word(Concurrency c) {
  switch (c) {
    case Concurrency::allow:
      return "allow";
    case Concurrency::forbid:
      return "forbid";
    case Concurrency::replace:
      return "replace";
  }
  return "forbid";
}

std::string_view missed_word(MissedPolicy p) {
  switch (p) {
    case MissedPolicy::skip:
      return "skip";
    case MissedPolicy::run_once:
      return "run-once";
    case MissedPolicy::run_all:
      return "run-all";
  }
  return "skip";
}

}  // namespace

std::string format_options(const CrontabOptions& o) {
  auto d = [](std::chrono::milliseconds v) {
    return v.count() == 0 ? std::string("none") : exact_duration(v);
  };
  std::string out = "ttl=" + exact_duration(o.ttl);
  out += " timeout=" + (o.timeout ? d(*o.timeout) : "none");
  out += " kill-grace=" + exact_duration(o.kill_grace);
  out += " stale-after=" + d(o.stale_after);
  out += " heartbeat=" + std::string(heartbeat_word(o.heartbeat));
  out += " concurrency=" + std::string(concurrency_word(o.concurrency));
  out += " missed=" + std::string(missed_word(o.missed));
  out += " grace=" + exact_duration(o.grace);
  out += " max-runs=" + std::to_string(o.max_runs);
  out += " jitter=" + exact_duration(o.jitter);
  out += " retries=" + std::to_string(o.retries);
  out += " once-per-slot=" + std::string(o.once_per_slot ? "yes" : "no");
  return out;
}

}  // namespace heartlock::cli
