// Writing Prometheus's text exposition format 0.0.4: what `heartlock cron --metrics-listen`
// (cron_metrics.h) and `heartlock metrics` (lock_metrics.h) share.
#ifndef HEARTLOCK_CLI_PROMETHEUS_TEXT_H_
#define HEARTLOCK_CLI_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace heartlock::cli {

// A label value escaped for the text format: backslash, double quote and newline; every byte that
// is not part of well-formed UTF-8 becomes U+FFFD, since label values must be UTF-8 and the format
// has no escape for a raw byte (heartlock refuses such lock names, but names found on a server and
// hosts read from a holder's record may hold anything).
std::string escape_label_value(std::string_view value);

// `name="value"` with the value escaped.
std::string prometheus_label(std::string_view name, std::string_view value);

// A sample value: the shortest text that reads back as the same double, in fixed notation when
// that fits; "+Inf", "-Inf", "NaN".
std::string format_sample_value(double value);

// The "# HELP" and "# TYPE" lines of family `name` ("counter", "gauge", "histogram").
// REQUIRES: `help` has no backslash and no newline (the callers' texts are constants).
void write_family(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help);

// One sample line; `labels` is empty or `a="x",b="y"` with the values escaped.
void write_sample(std::string& out, std::string_view name, std::string_view labels,
                  std::string_view value);
void write_sample(std::string& out, std::string_view name, std::string_view labels, double value);
void write_sample(std::string& out, std::string_view name, std::string_view labels,
                  std::uint64_t value);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_PROMETHEUS_TEXT_H_
