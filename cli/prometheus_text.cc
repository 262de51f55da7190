#include "prometheus_text.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "heartlock/text.h"

namespace heartlock::cli {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  while (!value.empty()) {
    // The well-formed prefix is copied (escaped); one bad byte is replaced and skipped.
    const std::size_t good = first_invalid_utf8(value).value_or(value.size());
    for (const char c : value.substr(0, good)) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '"':
          out += "\\\"";
          break;
        case '\n':
          out += "\\n";
          break;
        default:
          out += c;
      }
    }
    if (good < value.size()) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      value.remove_prefix(good + 1);
    } else {
      value = {};
    }
  }
  return out;
}

std::string prometheus_label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + escape_label_value(value) + "\"";
}

// Fixed notation when it fits: a timestamp in exponent form ("1.7e+09") is exact too but hard to
// read. Prometheus's parser (Go's ParseFloat) reads both.
std::string format_sample_value(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(value)) {
    return "NaN";
  }
  char buf[48];
  auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (result.ec != std::errc{}) {
    result = std::to_chars(buf, buf + sizeof buf, value);
  }
  return result.ec == std::errc{} ? std::string(buf, result.ptr) : "NaN";
}

void write_family(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void write_sample(std::string& out, std::string_view name, std::string_view labels,
                  std::string_view value) {
  out.append(name);
  if (!labels.empty()) {
    out.append("{").append(labels).append("}");
  }
  out.append(" ").append(value).append("\n");
}

void write_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  write_sample(out, name, labels, format_sample_value(value));
}

void write_sample(std::string& out, std::string_view name, std::string_view labels,
                  std::uint64_t value) {
  write_sample(out, name, labels, std::to_string(value));
}

}  // namespace heartlock::cli
