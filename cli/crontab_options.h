// The `# heartlock:` directives of a crontab (cli/crontab.h): their key=value words, and the
// options of a job made from them. Private to crontab.cc.
#ifndef HEARTLOCK_CLI_CRONTAB_OPTIONS_H_
#define HEARTLOCK_CLI_CRONTAB_OPTIONS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crontab.h"

namespace heartlock::cli::detail {

// One key=value of a directive, and the line it is on.
struct DirectiveWord {
  std::string key;
  std::string value;
  std::size_t line = 0;
};

// If `text` (a comment line) is a directive, returns what follows `heartlock:`; else nullopt.
std::optional<std::string_view> directive_body(std::string_view text);

// Splits a directive's body into key=value words, appended to `words`; a word without `=` or a
// key already given for this job is an error at `line`.
void parse_directive(std::string_view body, std::size_t line, std::vector<DirectiveWord>& words,
                     std::vector<CrontabError>& errors);

// The options and explicit name the words give.
struct JobSettings {
  CrontabOptions options;
  std::optional<std::string> name;
};

// Builds a job's settings from its directive words (empty: the defaults). Every unknown key, bad
// value and bad combination is appended to `errors`, at the line of the word concerned
// (`job_line` for problems of the defaults themselves).
JobSettings job_settings(const std::vector<DirectiveWord>& words, std::size_t job_line,
                         std::vector<CrontabError>& errors);

}  // namespace heartlock::cli::detail

#endif  // HEARTLOCK_CLI_CRONTAB_OPTIONS_H_
