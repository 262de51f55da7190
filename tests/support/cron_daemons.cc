#include "cron_daemons.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace heartlock::testing {

std::chrono::sys_seconds parse_slot(const std::string& text) {
  std::tm tm{};
  char z = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z') {
    return std::chrono::sys_seconds{};
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::sys_seconds(std::chrono::seconds(::timegm(&tm)));
}

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

CronDaemons::CronDaemons(const Backend& backend, const std::string& schedule,
                         const std::string& directive, const std::string& command)
    : url_(backend.url()), job_("tick-" + unique_suffix()), store_(open_store(url_)) {
  std::string text = command.empty() ? "echo \"$HEARTLOCK_SLOT $PPID\" >> {log}" : command;
  if (auto at = text.find("{log}"); at != std::string::npos) {
    text.replace(at, 5, dir_.file("log"));
  }
  std::ofstream out(crontab());
  out << "# heartlock: name=" << job_ << " " << directive << "\n"
      << schedule << " " << text << "\n";
}

CronDaemons::~CronDaemons() {
  for (auto& [i, d] : daemons_) {
    d.signal(SIGKILL);
  }
}

void CronDaemons::start(int i, const std::vector<std::string>& extra) {
  daemons_.erase(i);
  std::vector<std::string> args = {heartlock_binary(), "-b", url_, "cron"};
  if (std::find(extra.begin(), extra.end(), "--shutdown-grace") == extra.end()) {
    args.insert(args.end(), {"--shutdown-grace", "5s"});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(crontab());
  const std::string out = dir_.file("daemon" + std::to_string(i) + ".out");
  daemons_.emplace(i, Child::fork([args, out]() -> int {
                     const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
                     ::dup2(fd, STDOUT_FILENO);
                     ::dup2(fd, STDERR_FILENO);
                     std::vector<char*> argv;
                     for (const auto& a : args) {
                       argv.push_back(const_cast<char*>(a.c_str()));
                     }
                     argv.push_back(nullptr);
                     ::execv(argv[0], argv.data());
                     return 127;
                   }));
}

void CronDaemons::kill(int i) {
  auto it = daemons_.find(i);
  ASSERT_NE(it, daemons_.end());
  it->second.signal(SIGKILL);
  (void)it->second.exit_code();
}

void CronDaemons::stop(int i) {
  auto it = daemons_.find(i);
  ASSERT_NE(it, daemons_.end());
  it->second.signal(SIGTERM);
  EXPECT_EQ(it->second.exit_code(std::chrono::seconds(30)), 0) << output(i);
}

void CronDaemons::signal(int i, int sig) {
  auto it = daemons_.find(i);
  ASSERT_NE(it, daemons_.end());
  it->second.signal(sig);
}

bool CronDaemons::wait_for_runs(std::size_t n, std::chrono::milliseconds within) {
  return eventually([&] { return log_slots().size() >= n; }, within);
}

std::vector<std::chrono::sys_seconds> CronDaemons::log_slots() const {
  std::vector<std::chrono::sys_seconds> out;
  std::istringstream in(log_text());
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(parse_slot(line));
  }
  return out;
}

std::vector<std::pair<std::chrono::sys_seconds, pid_t>> CronDaemons::log_runs() const {
  std::vector<std::pair<std::chrono::sys_seconds, pid_t>> out;
  std::istringstream in(log_text());
  std::string slot;
  pid_t pid = 0;
  while (in >> slot >> pid) {
    out.emplace_back(parse_slot(slot), pid);
  }
  return out;
}

pid_t CronDaemons::pid(int i) const {
  auto it = daemons_.find(i);
  return it == daemons_.end() ? -1 : it->second.pid();
}

std::string CronDaemons::log_text() const { return read_all(dir_.file("log")); }

std::map<std::chrono::sys_seconds, RunState> CronDaemons::ledger() const {
  std::map<std::chrono::sys_seconds, RunState> out;
  if (auto records = run_history(*store_, job_, 100000)) {
    for (const RunRecord& r : *records) {
      out[r.slot] = r.state;
    }
  } else {
    ADD_FAILURE() << "ledger: " << records.error().message;
  }
  return out;
}

std::optional<RunState> CronDaemons::ledger_state(std::chrono::sys_seconds slot) const {
  auto all = ledger();
  auto it = all.find(slot);
  return it == all.end() ? std::nullopt : std::optional<RunState>(it->second);
}

std::string CronDaemons::output(int i) const {
  return read_all(dir_.file("daemon" + std::to_string(i) + ".out"));
}

std::string CronDaemons::output() const {
  std::string out = "log:\n" + log_text();
  for (const auto& [i, d] : daemons_) {
    out += "daemon " + std::to_string(i) + ":\n" + output(i);
  }
  return out;
}

}  // namespace heartlock::testing
