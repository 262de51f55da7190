// The crontab parser (crontab.h): one pass over the lines, keeping the environment, the zone and
// the pending directive words of the lines above the next job.
#include "crontab.h"

#include <algorithm>
#include <map>

#include "heartlock/digest.h"
#include "heartlock/job_key.h"

#include "crontab_options.h"

namespace heartlock::cli {
namespace {

constexpr std::string_view kBlanks = " \t";
// Bounds on what one file may hold: each job keeps a copy of its environment, so these bound the
// memory and hashing a file can cost (10000 jobs of 8 KiB environment: 80 MB).
constexpr std::size_t kMaxJobs = 10000;
constexpr std::size_t kMaxEnvBytes = 8192;

using Env = std::vector<std::pair<std::string, std::string>>;

std::string_view trim(std::string_view s) {
  s.remove_prefix(std::min(s.find_first_not_of(kBlanks), s.size()));
  s.remove_suffix(s.size() - std::min(s.find_last_not_of(kBlanks) + 1, s.size()));
  return s;
}

// `s` without its first word and the blanks after it; the word in `word`.
std::string_view next_word(std::string_view s, std::string_view& word) {
  s = s.substr(std::min(s.find_first_not_of(kBlanks), s.size()));
  const auto end = std::min(s.find_first_of(kBlanks), s.size());
  word = s.substr(0, end);
  s.remove_prefix(end);
  return s.substr(std::min(s.find_first_not_of(kBlanks), s.size()));
}

bool name_char(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

// NAME and the value text of an environment line, or nullopt if `text` is not one.
std::optional<std::pair<std::string_view, std::string_view>> assignment(std::string_view text) {
  text = trim(text);
  std::size_t n = 0;
  while (n < text.size() && name_char(text[n], n == 0)) {
    ++n;
  }
  const std::string_view rest = trim(text.substr(n));
  if (n == 0 || !rest.starts_with('=')) {
    return std::nullopt;
  }
  return std::pair{text.substr(0, n), trim(rest.substr(1))};
}

// An environment value as cronie reads it: quotes around the whole value are removed.
std::expected<std::string, std::string> env_value(std::string_view raw) {
  if (raw.empty() || (raw[0] != '"' && raw[0] != '\'')) {
    return std::string(raw);
  }
  const auto close = raw.find(raw[0], 1);
  if (close == std::string_view::npos) {
    return std::unexpected(std::string("unterminated ") + raw[0] + " quote");
  }
  if (close + 1 != raw.size()) {
    return std::unexpected("text after the closing quote (quotes are not escaped inside)");
  }
  return std::string(raw.substr(1, close - 1));
}

// Whether `word` could be a day-of-week field: digits, `* ? , - / #`, L, W and day names.
bool could_be_day_of_week(std::string_view word) {
  static constexpr std::string_view kNames[] = {"L",   "W",   "LW",  "SUN", "MON",
                                                "TUE", "WED", "THU", "FRI", "SAT"};
  for (std::size_t i = 0; i < word.size();) {
    if (std::string_view("0123456789*?,-/#").find(word[i]) != std::string_view::npos) {
      ++i;
      continue;
    }
    std::string letters;
    for (; i < word.size() && name_char(word[i], true) && word[i] != '_'; ++i) {
      letters += static_cast<char>(word[i] & ~0x20);  // ASCII upper case
    }
    if (letters.empty() || std::ranges::find(kNames, letters) == std::end(kNames)) {
      return false;
    }
  }
  return !word.empty();
}

struct JobText {
  std::string expression;    // words joined by single spaces
  std::string_view command;  // as written
};

// Splits a job line into its schedule and command.
std::expected<JobText, std::string> split_job(std::string_view text) {
  std::string_view words[6];
  std::string_view rest = trim(text);
  std::size_t count = 0;
  const bool macro = rest.starts_with('@');
  const bool every =
      macro && (rest == "@every" || rest.starts_with("@every ") || rest.starts_with("@every\t"));
  const std::size_t wanted = !macro ? 6 : every ? 2 : 1;
  for (; count < wanted && !rest.empty(); ++count) {
    rest = next_word(rest, words[count]);
  }
  if (count < wanted) {
    return std::unexpected(macro ? "no command after the schedule"
                                 : "too few fields: a job is 5 schedule fields (or 6, seconds "
                                   "first) and a command");
  }
  std::size_t fields = macro ? wanted : 5;
  if (!macro && could_be_day_of_week(words[5])) {
    if (rest.empty()) {
      return std::unexpected(
          "no command: 6 schedule fields and nothing after them (a 5-field job whose command "
          "looks like a day-of-week field needs a 6-field schedule)");
    }
    fields = 6;
  }
  if (macro && rest.empty()) {
    return std::unexpected("no command after the schedule");
  }
  JobText job;
  for (std::size_t i = 0; i < fields; ++i) {
    job.expression += (i == 0 ? "" : " ") + std::string(words[i]);
  }
  job.command = fields == 6 || macro ? rest : trim(text.substr(words[5].data() - text.data()));
  return job;
}

// The command with `\%` made `%`; an unescaped `%` is an error (crontab.h).
std::expected<std::string, std::string> unescape_command(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '%') {
      out += '%';
      ++i;
    } else if (raw[i] == '%') {
      return std::unexpected(
          "unescaped % in the command: cron would end the command there and send the rest to "
          "its stdin, which heartlock cron does not do; write \\% for a literal %");
    } else {
      out += raw[i];
    }
  }
  return out;
}

void frame(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ',';
}

std::string definition_of(const CrontabJob& job) {
  std::string framed;
  for (std::string_view field : {std::string_view(job.name), std::string_view(job.expression),
                                 job.schedule.zone(), std::string_view(job.command)}) {
    frame(framed, field);
  }
  for (const auto& [name, value] : job.env) {
    frame(framed, name + "=" + value);
  }
  frame(framed, format_options(job.options));
  return sha256_hex(framed).substr(0, 16);
}

// Parser: the state of one pass over a file. Not thread-safe; one per parse.
class Parser {
 public:
  std::expected<Crontab, CrontabErrors> run(std::string_view text);

 private:
  void line(std::size_t n, std::string_view text);
  void env_line(std::size_t n, std::string_view name, std::string_view raw);
  void zone_line(std::size_t n, std::string_view zone);
  void job_line(std::size_t n, std::string_view text);
  void add_job(std::size_t n, CrontabJob job);
  // An error at the pending directive's first line: it is not directly above a job.
  void orphan_directive();
  void error(std::size_t n, std::string message) { errors_.push_back({n, std::move(message)}); }

  std::vector<CrontabError> errors_;
  std::optional<Error> fatal_;  // the tz module is missing: no point going on
  std::vector<detail::DirectiveWord> directive_;
  std::size_t directive_line_ = 0;  // first line of the pending directive; 0: none
  std::string zone_;
  bool zone_ok_ = true;
  Env env_;
  std::size_t env_bytes_ = 0;
  std::map<std::string, std::size_t, std::less<>> names_;  // name -> line
  Crontab crontab_;
};

std::expected<Crontab, CrontabErrors> Parser::run(std::string_view text) {
  std::size_t n = 0;
  while (!text.empty() && !fatal_ && errors_.size() <= kMaxCrontabErrors) {
    const auto nl = std::min(text.find('\n'), text.size());
    line(++n, text.substr(0, nl));
    text.remove_prefix(std::min(nl + 1, text.size()));
  }
  if (directive_line_ != 0 && !fatal_) {
    orphan_directive();
  }
  if (fatal_) {
    return std::unexpected(CrontabErrors{fatal_->code, {{0, fatal_->message}}});
  }
  if (errors_.empty()) {
    return std::move(crontab_);
  }
  std::ranges::stable_sort(errors_, {}, &CrontabError::line);
  if (errors_.size() > kMaxCrontabErrors) {
    errors_.resize(kMaxCrontabErrors);
    errors_.push_back(
        {0, "too many errors: only the first " + std::to_string(kMaxCrontabErrors) + " are shown"});
  }
  return std::unexpected(CrontabErrors{Errc::invalid_argument, std::move(errors_)});
}

void Parser::line(std::size_t n, std::string_view text) {
  if (text.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
    error(n, text.find('\r') != std::string_view::npos
                 ? "carriage return in the line (DOS line ends?): save the file with \\n only"
                 : "NUL byte in the line");
    directive_line_ = 0;
    directive_.clear();
    return;
  }
  const std::string_view t = trim(text);
  if (auto body = detail::directive_body(t)) {
    directive_line_ = directive_line_ == 0 ? n : directive_line_;
    detail::parse_directive(*body, n, directive_, errors_);
    return;
  }
  const bool job = !t.empty() && !t.starts_with('#') && !assignment(t);
  if (!job) {
    if (directive_line_ != 0) {
      orphan_directive();
    }
    if (auto a = assignment(t)) {
      env_line(n, a->first, a->second);
    }
    return;
  }
  job_line(n, t);
  directive_line_ = 0;
  directive_.clear();
}

void Parser::orphan_directive() {
  error(directive_line_,
        "heartlock directive not followed by a job: put it directly above the job's line");
  directive_line_ = 0;
  directive_.clear();
}

void Parser::env_line(std::size_t n, std::string_view name, std::string_view raw) {
  auto value = env_value(raw);
  if (!value) {
    error(n, std::string(name) + ": " + value.error());
    return;
  }
  if (name == "CRON_TZ") {
    zone_line(n, *value);
    return;
  }
  auto it = std::ranges::find(env_, name, &Env::value_type::first);
  const std::size_t old = it == env_.end() ? 0 : it->first.size() + it->second.size();
  if (env_bytes_ - old + name.size() + value->size() > kMaxEnvBytes) {
    error(n, std::string(name) + ": the environment would exceed " + std::to_string(kMaxEnvBytes) +
                 " bytes");
    return;
  }
  env_bytes_ = env_bytes_ - old + name.size() + value->size();
  if (it == env_.end()) {
    env_.emplace_back(name, std::move(*value));
  } else {
    it->second = std::move(*value);
  }
}

void Parser::zone_line(std::size_t n, std::string_view zone) {
  zone_ = zone;
  zone_ok_ = true;
  if (zone.find_first_of(kBlanks) != std::string_view::npos) {
    zone_ok_ = false;
    error(n, "CRON_TZ=" + zone_ +
                 ": a zone name has no blanks (a job's own CRON_TZ= prefix is not supported: put "
                 "CRON_TZ=Zone on a line of its own above the job)");
    return;
  }
  if (auto probe = CronSchedule::parse("@hourly", zone_); !probe) {
    if (probe.error().code != Errc::invalid_argument) {
      fatal_ = probe.error();
      return;
    }
    zone_ok_ = false;
    error(n, "CRON_TZ: " + probe.error().message);
  }
}

void Parser::job_line(std::size_t n, std::string_view text) {
  // The directive's own errors come whatever the job line holds.
  detail::JobSettings settings = detail::job_settings(directive_, n, errors_);
  auto split = split_job(text);
  if (!split) {
    error(n, split.error());
    return;
  }
  auto command = unescape_command(split->command);
  if (!command) {
    error(n, command.error());
  }
  // With a bad CRON_TZ above (already an error), the schedule's syntax is still checked.
  auto schedule = CronSchedule::parse(split->expression, zone_ok_ ? zone_ : "UTC");
  if (!schedule) {
    if (schedule.error().code != Errc::invalid_argument) {
      fatal_ = schedule.error();
      return;
    }
    error(n, schedule.error().message);
  }
  if (!command || !schedule || !zone_ok_) {
    return;
  }
  CrontabJob job{.line = n,
                 .name = settings.name.value_or(default_job_name(split->expression, *command)),
                 .named = settings.name.has_value(),
                 .expression = std::move(split->expression),
                 .schedule = std::move(*schedule),
                 .command = std::move(*command),
                 .env = env_,
                 .options = settings.options};
  add_job(n, std::move(job));
}

void Parser::add_job(std::size_t n, CrontabJob job) {
  if (crontab_.jobs.size() >= kMaxJobs) {
    error(n, "more than " + std::to_string(kMaxJobs) + " jobs in one file");
    return;
  }
  auto [it, added] = names_.try_emplace(job.name, n);
  if (!added) {
    error(n, "job name \"" + job.name + "\" is already used on line " + std::to_string(it->second) +
                 (job.named ? ""
                            : " (the same schedule and command: give one of them a name= "
                              "directive)"));
    return;
  }
  job.definition = definition_of(job);
  crontab_.jobs.push_back(std::move(job));
}

}  // namespace

std::expected<Crontab, CrontabErrors> parse_crontab(std::string_view text) {
  return Parser().run(text);
}

std::string default_job_name(std::string_view expression, std::string_view command) {
  std::string_view program;
  (void)next_word(command, program);
  // job_key() reduces argv[0] to "run.<program>.<hash>"; its middle is the readable program.
  const std::string key = job_key({program.empty() ? std::string("job") : std::string(program)});
  const std::string readable = key.substr(4, key.rfind('.') - 4);
  std::string framed;
  frame(framed, expression);
  frame(framed, command);
  return "cron." + readable + "." + sha256_hex(framed).substr(0, 16);
}

}  // namespace heartlock::cli
