#include "crontab_file.h"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>

#include "heartlock/text.h"

#include "exit_codes.h"

namespace heartlock::cli {
namespace {

// A crontab is a few KiB; this bound keeps a wrong argument (/dev/zero, a log) from filling
// memory.
constexpr std::size_t kMaxFileBytes = 1 << 20;

// The file's bytes, or why not.
std::optional<std::string> read_file(const std::string& path, CrontabLoadError& failed) {
  auto fail = [&](const std::string& why, int code) {
    failed.exit_code = code;
    failed.errors.push_back(printable(path) + ": " + why);
    return std::nullopt;
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    return fail("cannot read: " + std::system_category().message(errno), kExitNoInput);
  }
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxFileBytes) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (n < sizeof buf) {
      break;
    }
  }
  if (std::ferror(f.get())) {
    return fail("cannot read: " + std::system_category().message(errno), kExitNoInput);
  }
  if (text.size() > kMaxFileBytes) {
    return fail("larger than 1 MiB: not a crontab", kExitUsage);
  }
  return text;
}

}  // namespace

std::expected<Crontab, CrontabLoadError> load_crontab(const std::string& path) {
  CrontabLoadError failed;
  auto text = read_file(path, failed);
  if (!text) {
    return std::unexpected(std::move(failed));
  }
  auto crontab = parse_crontab(*text);
  if (!crontab) {
    failed.exit_code =
        crontab.error().code == Errc::invalid_argument ? kExitUsage : kExitUnavailable;
    for (const auto& e : crontab.error().errors) {
      failed.errors.push_back(printable(path) + (e.line != 0 ? ":" + std::to_string(e.line) : "") +
                              ": " + terminal_safe(e.message));
    }
    return std::unexpected(std::move(failed));
  }
  return *std::move(crontab);
}

// Text from the file (a command, a value, a message quoting it), safe for the terminal
// (printable()) but with its backslashes as they are: `grep 'a\.b'` or the advice "write \%"
// would read wrong with them doubled, and a backslash cannot move the cursor.
std::string terminal_safe(std::string_view message) {
  std::string out;
  for (auto slash = message.find('\\'); slash != std::string_view::npos;
       slash = message.find('\\')) {
    out += printable(message.substr(0, slash)) + '\\';
    message.remove_prefix(slash + 1);
  }
  return out + printable(message);
}

}  // namespace heartlock::cli
