#include "cron_output.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ledger_text.h"

namespace heartlock::cli {
namespace {

constexpr std::size_t kMaxLine = 64 * 1024;

std::mutex& output_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void OutputSink::write_line(const std::string& job, std::chrono::sys_seconds slot, int stream,
                            std::string_view line) const {
  std::string text;
  if (json_) {
    // dump() with `replace`: a job's bytes need not be UTF-8, and one bad line must not throw.
    nlohmann::json j = {{"time", utc_text_millis(std::chrono::floor<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now()))},
                        {"job", job},
                        {"slot", utc_text(std::chrono::sys_time<std::chrono::milliseconds>(slot))},
                        {"stream", stream == 1 ? "stdout" : "stderr"},
                        {"line", std::string(line)}};
    text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    text = job + ": ";
    text += line;
  }
  text += '\n';
  std::lock_guard lock(output_mutex());
  exec::write_all(json_ || stream == 1 ? out_fd_ : err_fd_, text.data(), text.size());
}

OutputRelay::OutputRelay(const OutputSink& sink, std::string job, std::chrono::sys_seconds slot)
    : sink_(sink),
      job_(std::move(job)),
      slot_(slot),
      out_(exec::make_pipe()),
      err_(exec::make_pipe()),
      done_(::eventfd(0, EFD_CLOEXEC)) {
  if (out_.read.get() < 0 || err_.read.get() < 0 || done_.get() < 0) {
    out_ = {};
    err_ = {};
    return;
  }
  thread_ = std::thread([this] { relay(); });
}

OutputRelay::~OutputRelay() { finish(); }

void OutputRelay::finish(std::chrono::milliseconds linger) {
  if (!thread_.joinable()) {
    return;
  }
  out_.write.close();
  err_.write.close();
  linger_ms_ = linger.count();
  std::uint64_t one = 1;
  (void)!::write(done_.get(), &one, sizeof one);
  thread_.join();
}

void OutputRelay::relay() {
  std::string pending[2];
  exec::Fd* fds[2] = {&out_.read, &err_.read};
  auto emit = [&](int i, std::string_view line) { sink_.write_line(job_, slot_, i + 1, line); };
  auto take = [&](int i, const char* data, std::size_t n) {
    pending[i].append(data, n);
    std::size_t start = 0;
    for (auto nl = pending[i].find('\n'); nl != std::string::npos;
         nl = pending[i].find('\n', start)) {
      emit(i, std::string_view(pending[i]).substr(start, nl - start));
      start = nl + 1;
    }
    pending[i].erase(0, start);
    while (pending[i].size() >= kMaxLine) {
      emit(i, std::string_view(pending[i]).substr(0, kMaxLine));
      pending[i].erase(0, kMaxLine);
    }
  };
  // Until both pipes are at EOF; once finish() was called, at most linger_ more.
  std::optional<std::chrono::steady_clock::time_point> until;
  while (fds[0]->get() >= 0 || fds[1]->get() >= 0) {
    pollfd p[3] = {{fds[0]->get(), POLLIN, 0}, {fds[1]->get(), POLLIN, 0}, {-1, 0, 0}};
    p[2] = {until ? -1 : done_.get(), POLLIN, 0};
    int timeout = -1;
    if (until) {
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(*until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      timeout = static_cast<int>(left.count());
    }
    if (::poll(p, 3, timeout) < 0 && errno != EINTR) {
      break;
    }
    if (p[2].revents != 0) {
      until = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms_.load());
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) {
        continue;
      }
      char buf[16384];
      const ssize_t n = ::read(fds[i]->get(), buf, sizeof buf);
      if (n > 0) {
        take(i, buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i]->close();
      }
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (!pending[i].empty()) {
      emit(i, pending[i]);
    }
  }
}

}  // namespace heartlock::cli
