// Crontab files of `heartlock cron` (cli/crontab.cc), read as data: parse_crontab() never throws,
// accepts a file with uniquely and validly named jobs, each with a command of one line and a
// definition hash, whose printed options are a directive giving the same options back; or
// rejects it with errors on lines of the file, in line order, bounded in number.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "heartlock/store.h"

#include "../cli/crontab.h"
#include "fuzz_check.h"

namespace {

using heartlock::cli::parse_crontab;

void check_options(const heartlock::cli::CrontabJob& job) {
  const std::string options = heartlock::cli::format_options(job.options);
  auto again = parse_crontab("# heartlock: " + options + "\n@daily x\n");
  FUZZ_CHECK(again.has_value(), "the printed options are a valid directive");
  FUZZ_CHECK(again->jobs.size() == 1, "one job");
  FUZZ_CHECK(heartlock::cli::format_options(again->jobs[0].options) == options,
             "the printed options read back the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = heartlock::fuzz::as_text(data, size);
  const std::size_t lines = static_cast<std::size_t>(std::ranges::count(text, '\n')) + 1;
  auto crontab = parse_crontab(text);
  if (!crontab) {
    const auto& errors = crontab.error().errors;
    FUZZ_CHECK(!errors.empty(), "a rejected file says why");
    if (crontab.error().code != heartlock::Errc::invalid_argument) {
      FUZZ_CHECK(crontab.error().code == heartlock::Errc::unavailable, "the tz module is missing");
      return 0;
    }
    FUZZ_CHECK(errors.size() <= heartlock::cli::kMaxCrontabErrors + 1, "bounded errors");
    for (std::size_t i = 0; i < errors.size(); ++i) {
      FUZZ_CHECK(!errors[i].message.empty(), "every error says what");
      FUZZ_CHECK(errors[i].line <= lines, "a line of the file");
      FUZZ_CHECK(
          i + 1 == errors.size() || errors[i].line <= errors[i + 1].line || errors[i + 1].line == 0,
          "in line order");
    }
    return 0;
  }
  std::set<std::string> names;
  for (const auto& job : crontab->jobs) {
    FUZZ_CHECK(names.insert(job.name).second, "unique names");
    FUZZ_CHECK(heartlock::validate_name(job.name).has_value(), "a valid lock name");
    FUZZ_CHECK(job.line >= 1 && job.line <= lines, "a line of the file");
    FUZZ_CHECK(job.command.find('\n') == std::string::npos && !job.command.empty(),
               "a command of one line");
    FUZZ_CHECK(job.definition.size() == 16, "a definition hash");
    check_options(job);
  }
  return 0;
}
