// The output of `heartlock cron`'s jobs: each run's stdout and stderr read from pipes and written
// to the daemon's own stdout and stderr line by line, each line prefixed with the job's name --
// or, with --log-format json, as one JSON object per line on stdout -- so that the lines of jobs
// running at once never interleave within a line.
#ifndef HEARTLOCK_CLI_CRON_OUTPUT_H_
#define HEARTLOCK_CLI_CRON_OUTPUT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "exec/fd.h"

namespace heartlock::cli {

// Where job output goes and in which form. Thread-safety: write_line() from any thread; each line
// is written with one write(2) under a process-wide mutex.
class OutputSink {
 public:
  OutputSink(bool json, int out_fd, int err_fd) : json_(json), out_fd_(out_fd), err_fd_(err_fd) {}
  // One line (without its newline) of `job`'s run of `slot` on `stream` (1 stdout, 2 stderr).
  void write_line(const std::string& job, std::chrono::sys_seconds slot, int stream,
                  std::string_view line) const;

 private:
  bool json_;
  int out_fd_;
  int err_fd_;
};

// One run's output: two pipes whose write ends COMMAND gets, and a thread that relays what it
// reads to an OutputSink. Lines longer than 64 KiB are cut into pieces. Not movable; make it,
// finish() it and destroy it on one thread.
class OutputRelay {
 public:
  OutputRelay(const OutputSink& sink, std::string job, std::chrono::sys_seconds slot);
  OutputRelay(const OutputRelay&) = delete;
  OutputRelay& operator=(const OutputRelay&) = delete;
  ~OutputRelay();

  // The pipes' write ends, for COMMAND (-1 if they could not be made: COMMAND then writes to the
  // daemon's stdout and stderr directly).
  int stdout_fd() const { return out_.write.get(); }
  int stderr_fd() const { return err_.write.get(); }

  // COMMAND has ended: closes our write ends, relays what is left without waiting longer than
  // `linger` for background processes that still hold the pipes, and joins the thread.
  void finish(std::chrono::milliseconds linger = std::chrono::milliseconds(200));

 private:
  void relay();

  const OutputSink& sink_;
  const std::string job_;
  const std::chrono::sys_seconds slot_;
  exec::Pipe out_;
  exec::Pipe err_;
  exec::Fd done_;                           // eventfd: finish() was called
  std::atomic<std::int64_t> linger_ms_{0};  // set by finish() before it wakes the thread
  std::thread thread_;
};

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_OUTPUT_H_
