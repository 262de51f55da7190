// `heartlock status --watch`: redraws a frame on the terminal until the user quits.
#ifndef HEARTLOCK_CLI_STATUS_WATCH_H_
#define HEARTLOCK_CLI_STATUS_WATCH_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace heartlock::cli {

// The shortest --interval: a faster refresh only loads the store.
inline constexpr std::chrono::milliseconds kMinWatchInterval{100};

// Shows `frame()` (lines ending in "\n"; text from the store already escaped) on the terminal at
// stdout under a title line naming `title`, and draws it again every `interval`, at once when the
// window is resized, and on a space or `r` typed. Uses the terminal's alternate screen (as less
// and top do) and, when stdin is a terminal, reads keys unbuffered without echo; puts both back
// before it returns. Lines are cut to the window's width and the frame to its height.
//
// Returns 0 when `q` is typed, 128+N when signal N (SIGINT, SIGTERM, SIGHUP or SIGQUIT, which
// main() blocks) arrives -- 130 for Ctrl-C, as a shell reports a job Ctrl-C ended.
// REQUIRES: stdout is a terminal; those signals are blocked in the calling thread.
int watch_on_terminal(std::string_view title, std::chrono::milliseconds interval,
                      const std::function<std::string()>& frame);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_STATUS_WATCH_H_
