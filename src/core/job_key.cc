// The default job key rule (heartlock/job_key.h).
#include "heartlock/job_key.h"

#include "heartlock/digest.h"

namespace heartlock {

std::string job_key(const std::vector<std::string>& argv) {
  std::string framed;
  for (const auto& arg : argv) {
    framed += std::to_string(arg.size());
    framed += ':';
    framed += arg;
    framed += ',';
  }
  std::string program = argv.front();
  if (auto slash = program.rfind('/'); slash != std::string::npos) {
    program = program.substr(slash + 1);
  }
  std::string clean;
  for (char c : program) {
    if (clean.size() >= 32) {
      break;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    clean.push_back(ok ? c : '_');
  }
  return "run." + clean + "." + sha256_hex(framed).substr(0, 16);
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    bool plain = !arg.empty() && arg.find_first_not_of(
                                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_-./=:,+@%") == std::string::npos;
    if (plain) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

}  // namespace heartlock
