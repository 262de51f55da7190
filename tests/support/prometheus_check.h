// A strict reader of Prometheus's text exposition format 0.0.4, for tests (promtool is not
// installed here): it accepts only what heartlock writes and what the format allows -- HELP and
// TYPE once per family and before its samples, a family's samples together, valid metric and label
// names, only the escapes \\ \" \n in label values (\\ \n in HELP), a float value, no timestamps,
// no blank lines or other comments, no series twice, UTF-8 throughout, a final newline.
#ifndef HEARTLOCK_TESTS_SUPPORT_PROMETHEUS_CHECK_H_
#define HEARTLOCK_TESTS_SUPPORT_PROMETHEUS_CHECK_H_

#include <cctype>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heartlock/text.h"

namespace heartlock::testing {

struct PromSample {
  std::string metric;
  std::map<std::string, std::string> labels;  // unescaped
  double value = 0;
};

struct PromExposition {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, std::string> helps;  // family -> help (unescaped)
  std::vector<std::string> problems;         // empty: the text is valid

  // The samples of `metric` whose labels include `labels`.
  std::vector<PromSample> find(const std::string& metric,
                               const std::map<std::string, std::string>& labels = {}) const {
    std::vector<PromSample> out;
    for (const PromSample& s : samples) {
      bool match = s.metric == metric;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) {
        out.push_back(s);
      }
    }
    return out;
  }
};

namespace prom_detail {

inline bool metric_name(std::string_view n) {
  if (n.empty() ||
      !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_' || n[0] == ':')) {
    return false;
  }
  for (const char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) {
      return false;
    }
  }
  return true;
}

inline bool label_name(std::string_view n) {
  return metric_name(n) && n.find(':') == std::string_view::npos && !n.starts_with("__");
}

// Reads an escaped text up to `end` (a quote, or the end of the line for HELP); `allowed` are the
// characters that may follow a backslash.
inline bool unescape(std::string_view& in, char end, std::string_view allowed, std::string& out) {
  while (!in.empty() && in.front() != end) {
    char c = in.front();
    in.remove_prefix(1);
    if (c == '\\') {
      if (in.empty() || allowed.find(in.front()) == std::string_view::npos) {
        return false;
      }
      c = in.front() == 'n' ? '\n' : in.front();
      in.remove_prefix(1);
    }
    out += c;
  }
  return end == '\n' || !in.empty();
}

inline bool value(std::string_view text, double& out) {
  if (text == "+Inf" || text == "-Inf" || text == "NaN") {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    out =
        text == "NaN" ? std::numeric_limits<double>::quiet_NaN() : (text[0] == '+' ? kInf : -kInf);
    return true;
  }
  const std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && s.find_first_of(" \tiInNxX") == s.npos;
}

// The family a sample belongs to: a histogram's _bucket, _sum and _count are its own.
inline std::string family_of(const std::string& metric,
                             const std::map<std::string, std::string>& types) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (metric.ends_with(suffix)) {
      std::string base = metric.substr(0, metric.size() - suffix.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
        return base;
      }
    }
  }
  return metric;
}

inline bool sample(std::string_view line, PromSample& s) {
  const std::size_t name_end = line.find_first_of("{ ");
  if (name_end == std::string_view::npos) {
    return false;
  }
  s.metric = std::string(line.substr(0, name_end));
  line.remove_prefix(name_end);
  if (!metric_name(s.metric)) {
    return false;
  }
  if (line.front() == '{') {
    line.remove_prefix(1);
    while (!line.empty() && line.front() != '}') {
      const std::size_t eq = line.find("=\"");
      if (eq == std::string_view::npos) {
        return false;
      }
      const std::string name(line.substr(0, eq));
      line.remove_prefix(eq + 2);
      std::string v;
      if (!label_name(name) || !unescape(line, '"', "\\\"n", v) || s.labels.contains(name)) {
        return false;
      }
      s.labels[name] = v;
      line.remove_prefix(1);  // the closing quote
      if (line.starts_with(",") && !line.starts_with(",}")) {
        line.remove_prefix(1);
      } else if (!line.starts_with("}")) {
        return false;
      }
    }
    if (line.empty()) {
      return false;
    }
    line.remove_prefix(1);
  }
  return line.starts_with(" ") && value(line.substr(1), s.value);
}

}  // namespace prom_detail

inline PromExposition parse_exposition(std::string_view text) {
  using namespace prom_detail;
  PromExposition out;
  auto problem = [&](std::size_t line_no, std::string what) {
    out.problems.push_back("line " + std::to_string(line_no) + ": " + std::move(what));
  };
  if (auto bad = first_invalid_utf8(text)) {
    out.problems.push_back("invalid UTF-8 at byte " + std::to_string(*bad));
  }
  if (!text.empty() && !text.ends_with('\n')) {
    out.problems.push_back("no newline at the end");
  }
  std::set<std::string> sampled;  // families with samples so far
  std::set<std::string> series;   // metric + labels, as written
  std::string current;            // the family of the last sample
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      const std::size_t space = rest.find(' ');
      const std::string name(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      if (!metric_name(name) || sampled.contains(name)) {
        problem(line_no, "bad or late metadata for " + name);
      } else if (line[2] == 'H') {
        std::string help;
        if (out.helps.contains(name) || !unescape(rest, '\n', "\\n", help)) {
          problem(line_no, "bad or repeated HELP");
        }
        out.helps[name] = help;
      } else {
        static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram",
                                                          "summary", "untyped"};
        if (out.types.contains(name) || !kTypes.contains(rest)) {
          problem(line_no, "bad or repeated TYPE");
        }
        out.types[name] = std::string(rest);
      }
      continue;
    }
    PromSample s;
    if (line.empty() || line.starts_with('#') || !sample(line, s)) {
      problem(line_no, "not a sample: " + std::string(line));
      continue;
    }
    const std::string family = family_of(s.metric, out.types);
    if (!out.types.contains(family)) {
      problem(line_no, "no TYPE for " + family);
    }
    if (family != current && sampled.contains(family)) {
      problem(line_no, "the samples of " + family + " are not together");
    }
    current = family;
    sampled.insert(family);
    std::string key = s.metric;
    for (const auto& [k, v] : s.labels) {
      key += "\x1f" + k + "\x1f" + v;
    }
    if (!series.insert(key).second) {
      problem(line_no, "a series twice: " + std::string(line));
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_PROMETHEUS_CHECK_H_
