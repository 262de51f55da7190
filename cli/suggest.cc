#include "suggest.h"

#include <algorithm>
#include <numeric>

#include "events.h"

namespace heartlock::cli {
namespace {

// The option `arg` names ("-b", "--backend", "--backend=URL") in `app`, or nullptr.
const CLI::Option* find_option(const CLI::App& app, std::string_view arg) {
  const std::string name(arg.substr(0, arg.find('=')));
  return app.get_option_no_throw(name);
}

// Whether the argument after `arg` is `arg`'s value ("-b URL", "--ttl 5s", not "--ttl=5s").
bool takes_next(const CLI::Option* option, std::string_view arg) {
  return option != nullptr && option->get_expected_min() > 0 &&
         arg.find('=') == std::string_view::npos && !(arg.size() > 2 && arg[1] != '-');
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands(std::function<bool(const CLI::App*)>{})) {
    names.push_back(sub->get_name());
  }
  return names;
}

// Every long option of `app` and of its parent (the global ones), with their dashes.
std::vector<std::string> long_options(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* option : a->get_options()) {
      for (const auto& lname : option->get_lnames()) {
        names.push_back("--" + lname);
      }
    }
  }
  return names;
}

// The first long option in args[from...] that neither `sub` nor its parent knows, with the
// nearest known one; nullopt if there is none or nothing is near.
std::optional<std::string> explain_option(const CLI::App& sub, const std::vector<std::string>& args,
                                          std::size_t from) {
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      return std::nullopt;
    }
    if (!arg.starts_with('-')) {
      if (sub.get_positionals_at_end()) {
        return std::nullopt;  // COMMAND [ARGS...]: what follows is COMMAND's
      }
      continue;
    }
    const CLI::Option* option = find_option(sub, arg);
    if (option == nullptr && sub.get_parent() != nullptr) {
      option = find_option(*sub.get_parent(), arg);
    }
    if (option != nullptr) {
      i += takes_next(option, arg) ? 1 : 0;
      continue;
    }
    if (!arg.starts_with("--")) {
      continue;
    }
    const std::string_view name = arg.substr(0, arg.find('='));
    if (auto near = nearest(name, long_options(sub))) {
      return "unknown option '" + std::string(name) + "' for '" + sub.get_name() +
             "'; did you mean '" + *near + "'?";
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the dynamic programme at a time: row[j] is the distance of a[0..i) to b[0..j).
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates,
                                   std::size_t max_distance) {
  std::optional<std::string> best;
  std::size_t best_distance = max_distance + 1;
  for (const auto& candidate : candidates) {
    if (const std::size_t d = edit_distance(word, candidate); d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::optional<std::string> explain_parse_error(const CLI::App& app,
                                               const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      return std::nullopt;
    }
    if (arg.starts_with('-')) {
      i += takes_next(find_option(app, arg), arg) ? 1 : 0;
      continue;
    }
    const auto names = subcommand_names(app);
    if (std::find(names.begin(), names.end(), arg) == names.end()) {
      std::string text = "unknown command '" + std::string(arg) + "'";
      if (auto near = nearest(arg, names)) {
        text += "; did you mean '" + *near + "'?";
      } else {
        text += " (see " + program_name() + " --help)";
      }
      return text;
    }
    return explain_option(*app.get_subcommand(std::string(arg)), args, i + 1);
  }
  return std::nullopt;
}

}  // namespace heartlock::cli
