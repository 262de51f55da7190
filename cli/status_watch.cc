#include "status_watch.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <vector>

#include <termios.h>

#include "heartlock/duration.h"

#include "exec/fd.h"

namespace heartlock::cli {
namespace {

// The alternate screen (what less and top draw on: the shell's screen is back as it was when we
// leave) with the cursor hidden; and the way back.
constexpr std::string_view kEnterScreen = "\x1b[?1049h\x1b[?25l";
constexpr std::string_view kLeaveScreen = "\x1b[?25h\x1b[?1049l";

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the terminal is gone; the signal that follows (SIGHUP) ends the watch
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The terminal's state while watching: the alternate screen, and stdin (when it is a terminal)
// without line buffering and echo, so that `q` acts at once and typing does not disturb the
// frame. ISIG stays on: Ctrl-C is still SIGINT. The destructor puts both back.
// Ownership: one per process at a time. Not thread-safe.
class TerminalSession {
 public:
  TerminalSession() {
    if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios keys = saved_;
      keys.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      keys.c_cc[VMIN] = 1;
      keys.c_cc[VTIME] = 0;
      restore_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &keys) == 0;
      keys_ = restore_;
    }
    write_all(STDOUT_FILENO, kEnterScreen);
  }
  ~TerminalSession() {
    write_all(STDOUT_FILENO, kLeaveScreen);
    if (restore_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
  }
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;

  // Whether keys are read from stdin: it is a terminal set up for it, not yet at its end.
  bool keys() const { return keys_; }
  void stop_reading_keys() { keys_ = false; }

 private:
  termios saved_{};
  bool restore_ = false;  // saved_ is to be put back
  bool keys_ = false;
};

// The signals that end the watch (blocked by main()) and SIGWINCH, read from a signalfd.
// SIGWINCH is blocked while it lives, and the mask put back after.
// Ownership: owns the signalfd. Not thread-safe.
class WatchSignals {
 public:
  WatchSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}) {
      sigaddset(&set, sig);
    }
    ::pthread_sigmask(SIG_BLOCK, &set, &saved_);
    fd_ = exec::Fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~WatchSignals() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  WatchSignals(const WatchSignals&) = delete;
  WatchSignals& operator=(const WatchSignals&) = delete;

  int fd() const { return fd_.get(); }
  // The next signal that arrived, or 0.
  int next() const {
    signalfd_siginfo info{};
    return ::read(fd_.get(), &info, sizeof info) == sizeof info ? static_cast<int>(info.ssi_signo)
                                                                : 0;
  }

 private:
  sigset_t saved_{};
  exec::Fd fd_;
};

// `line` cut to `columns` characters (counted as UTF-8 code points: close enough for a table).
std::string_view fit(std::string_view line, std::size_t columns) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xc0) != 0x80 && chars++ == columns) {
      return line.substr(0, i);
    }
  }
  return line;
}

std::string clock_text() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  char buf[32] = "";
  if (::localtime_r(&now, &local) != nullptr) {
    std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  }
  return buf;
}

// The whole screen: cursor home, each line cleared and drawn, the rest below cleared. The last
// line gets no newline, so a frame as tall as the window does not scroll it.
std::string screen(std::string_view title, std::chrono::milliseconds interval,
                   const std::string& body) {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
    ws.ws_col = 80;
    ws.ws_row = 24;
  }
  std::vector<std::string_view> lines;
  const std::string head = "Every " + format_duration(interval) + ": " + std::string(title) + "  " +
                           clock_text() + "  (q quits)";
  lines.push_back(head);
  lines.emplace_back();
  std::string_view rest = body;
  while (!rest.empty() && lines.size() < ws.ws_row) {
    const std::size_t end = std::min(rest.find('\n'), rest.size());
    lines.push_back(rest.substr(0, end));
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  std::string out = "\x1b[H";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out.append(i == 0 ? "" : "\r\n").append("\x1b[2K").append(fit(lines[i], ws.ws_col));
  }
  return out.append("\x1b[J");
}

}  // namespace

int watch_on_terminal(std::string_view title, std::chrono::milliseconds interval,
                      const std::function<std::string()>& frame) {
  using Clock = std::chrono::steady_clock;
  const WatchSignals signals;
  TerminalSession terminal;
  for (;;) {
    write_all(STDOUT_FILENO, screen(title, interval, frame()));
    const Clock::time_point next = Clock::now() + interval;
    for (bool redraw = false; !redraw;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
      if (left.count() <= 0) {
        break;
      }
      pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {terminal.keys() ? STDIN_FILENO : -1, POLLIN, 0}};
      if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) {
        continue;  // the time is up (checked above), or EINTR
      }
      for (int sig = signals.next(); sig != 0; sig = signals.next()) {
        if (sig != SIGWINCH) {
          return 128 + sig;
        }
        redraw = true;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        char keys[64];
        const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
        for (ssize_t i = 0; i < n; ++i) {
          if (keys[i] == 'q' || keys[i] == 'Q') {
            return 0;
          }
          redraw = redraw || keys[i] == ' ' || keys[i] == 'r';
        }
        if (n <= 0) {
          terminal.stop_reading_keys();  // end of input, or the terminal is gone
        }
      } else if ((fds[1].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        terminal.stop_reading_keys();
      }
    }
  }
}

}  // namespace heartlock::cli
