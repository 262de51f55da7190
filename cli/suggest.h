// Suggestions for a mistyped subcommand or long option, after CLI11 refused the command line:
// `heartlock stauts` -> "unknown command 'stauts'; did you mean 'status'?".
#ifndef HEARTLOCK_CLI_SUGGEST_H_
#define HEARTLOCK_CLI_SUGGEST_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace heartlock::cli {

// The Levenshtein distance between `a` and `b` (insertions, deletions, substitutions).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` within `max_distance` edits (the first of equals); nullopt if
// none is that near.
std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates,
                                   std::size_t max_distance = 2);

// What to tell the user about a command line `app` refused, when the mistake is an unknown
// subcommand (with the nearest name if one is within two edits) or a mistyped long option of a
// subcommand (only when one is within two edits): the whole line after "heartlock: "; nullopt to
// keep CLI11's own message.
// Reads `app`'s definitions only; it does not parse again.
std::optional<std::string> explain_parse_error(const CLI::App& app,
                                               const std::vector<std::string>& args);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_SUGGEST_H_
