// Leader election (include/heartlock/leader.h) under faults, on every backend: campaigners are
// forked processes with stores of their own; the leader is killed with SIGKILL, or stopped with
// SIGSTOP past its ttl and resumed. What a leader does as leader goes through a fenced resource
// (tools/fenced_resource.h) that refuses tokens below the highest it accepted.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/leader.h"

#include "../../tools/fenced_resource.h"
#include "../support/backends.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Backend;
using testing::Child;
using testing::TempDir;

long long boot_ns() { return BootClock::now().time_since_epoch().count(); }

// One line, appended with a single write(2) to a file every campaigner shares (O_APPEND).
void append(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  const std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

// A campaigner's report: "<what> <id> <token> <more>" (led: the boot-clock ns it led at; lost:
// the reason; late: accepted or rejected).
struct Report {
  std::string what;
  long id = 0;
  std::uint64_t token = 0;
  std::string more;
};

std::optional<Report> find(const std::string& path, const std::string& what, long id) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    Report r;
    std::istringstream(line) >> r.what >> r.id >> r.token >> r.more;
    if (r.what == what && r.id == id) {
      return r;
    }
  }
  return std::nullopt;
}

struct Campaigner {
  std::string url;
  std::string name;
  std::chrono::milliseconds ttl;
  std::string log;
  std::string resource;  // the fenced resource's socket; empty: no fenced work
  long id = 0;
};

// A forked campaigner's body: campaigns until it leads (retrying while the backend is
// unavailable), then works as leader -- a fenced write every 20 ms -- until leadership is lost,
// then reports the loss and makes one more, late write with its old token, as a deposed leader
// whose write was in flight would. Exit codes 2.. say what went wrong.
int campaign_and_lead(const Campaigner& c) {
  auto store = Store::open(c.url);
  if (!store) {
    return 2;
  }
  Election election(**store, c.name, {.ttl = c.ttl});
  std::optional<Leadership> me;
  for (int tries = 0; !me && tries < 100; ++tries) {
    auto led = election.campaign({});
    if (led && led->has_value()) {
      me = std::move(**led);
    } else if (!led && led.error().code == Errc::unavailable) {
      std::this_thread::sleep_for(200ms);
    } else {
      return 3;
    }
  }
  if (!me) {
    return 4;
  }
  tools::ResourceClient resource;
  auto write = [&](const char* kind) {
    return c.resource.empty() || resource.write(kind, me->token(), c.id, !me->lost());
  };
  if (!c.resource.empty() && (!resource.connect(c.resource) || !write("enter"))) {
    return 5;
  }
  append(c.log, "led " + std::to_string(c.id) + " " + std::to_string(me->token()) + " " +
                    std::to_string(boot_ns()));
  while (!me->stop_token().stop_requested()) {
    std::this_thread::sleep_for(20ms);
    (void)write("write");  // a write that arrives late is refused: the fence's job
  }
  append(c.log, "lost " + std::to_string(c.id) + " " + std::to_string(me->token()) + " " +
                    std::string(me->lost_reason() ? to_string(*me->lost_reason()) : "none"));
  const bool late = write("write");
  append(c.log, "late " + std::to_string(c.id) + " " + std::to_string(me->token()) + " " +
                    (late ? "accepted" : "rejected"));
  return 0;
}

class Leader : public ::testing::TestWithParam<Backend> {};

// A leader killed with SIGKILL: a waiting campaigner leads within the ttl (its lease runs out on
// the server), on the file backend at once (the kernel frees the lock with the process): there
// the ttl is long, so that leading within it proves nothing waited for it.
TEST_P(Leader, AKilledLeaderIsSucceededWithinItsTtl) {
  const Backend& b = GetParam();
  const bool file = b.name == "file";
  const auto ttl = file ? 30s : 2s;
  const auto bound = file ? 5s : ttl + 5s;  // slack for a loaded machine under sanitizers
  TempDir dir;
  const Campaigner first{.url = b.url(),
                         .name = "leader-" + testing::unique_suffix(),
                         .ttl = ttl,
                         .log = dir.file("reports"),
                         .id = 1};
  Campaigner second = first;
  second.id = 2;
  // Every process is forked before this one opens a store (and so starts threads).
  auto leader = Child::fork([&] { return campaign_and_lead(first); });
  ASSERT_TRUE(testing::eventually([&] { return find(first.log, "led", 1).has_value(); }))
      << "the first campaigner never led";
  auto waiting = Child::fork([&] { return campaign_and_lead(second); });
  auto store = testing::open_store(first.url);
  ASSERT_TRUE(store);
  Election observer(*store, first.name, {.ttl = ttl});
  auto now = observer.leader();
  ASSERT_TRUE(now && now->has_value());
  EXPECT_EQ((*now)->pid, leader.pid());
  std::this_thread::sleep_for(300ms);  // the second campaigner waits by now (not asserted)

  const long long killed = boot_ns();
  leader.signal(SIGKILL);
  EXPECT_EQ(leader.exit_code(10s), 128 + SIGKILL);
  ASSERT_TRUE(testing::eventually([&] { return find(first.log, "led", 2).has_value(); }, 60s))
      << "nobody led after the leader was killed";
  const Report old_term = *find(first.log, "led", 1);
  const Report new_term = *find(first.log, "led", 2);
  EXPECT_GT(new_term.token, old_term.token);
  const long long after = std::stoll(new_term.more) - killed;
  EXPECT_LT(after, std::chrono::nanoseconds(bound).count())
      << "led " << after / 1'000'000 << "ms after the kill";
  EXPECT_TRUE(testing::eventually([&] {
    auto who = observer.leader();
    return who && who->has_value() && (*who)->pid == waiting.pid();
  })) << "the observer does not see the new leader";
  std::printf("[ measure  ] %s: a campaigner led %lldms after the leader was killed (ttl %llds)\n",
              b.name.c_str(), after / 1'000'000, static_cast<long long>(ttl.count()));
}

// A leader stopped (SIGSTOP) past its ttl: another campaigner leads meanwhile with a higher token
// and writes with it. Resumed, the old leader has stepped down -- its stop token is stopped, by
// its lease's deadline timer -- and its late write with the old token is refused.
TEST_P(Leader, APausedLeaderStepsDownAndItsLateWriteIsRefused) {
  const Backend& b = GetParam();
  TempDir dir;
  const std::string log = dir.file("reports");
  const int log_fd = ::open(dir.file("resource.log").c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  ASSERT_GE(log_fd, 0);
  tools::FencedResource fenced;
  ASSERT_TRUE(fenced.start(dir.file("resource.sock"), log_fd, true));
  const Campaigner first{.url = b.url(),
                         .name = "leader-" + testing::unique_suffix(),
                         .ttl = 2s,
                         .log = log,
                         .resource = dir.file("resource.sock"),
                         .id = 1};
  Campaigner second = first;
  second.id = 2;
  auto old_leader = Child::fork([&] { return campaign_and_lead(first); });
  ASSERT_TRUE(testing::eventually([&] { return find(log, "led", 1).has_value(); }))
      << "the first campaigner never led";
  auto new_leader = Child::fork([&] { return campaign_and_lead(second); });
  {
    testing::ScopedStop paused({old_leader.pid()});
    ASSERT_TRUE(testing::eventually([&] { return find(log, "led", 2).has_value(); }, 60s))
        << "nobody led while the leader was stopped";
    EXPECT_FALSE(find(log, "lost", 1).has_value());
  }  // SIGCONT
  ASSERT_TRUE(testing::eventually([&] { return find(log, "late", 1).has_value(); }, 30s))
      << "the resumed leader did not step down";
  EXPECT_EQ(old_leader.exit_code(10s), 0);
  const Report old_term = *find(log, "led", 1);
  const Report new_term = *find(log, "led", 2);
  EXPECT_GT(new_term.token, old_term.token);
  const Report lost = *find(log, "lost", 1);
  EXPECT_NE(lost.more, "none") << "stepped down without a reason";
  EXPECT_EQ(find(log, "late", 1)->more, "rejected") << "the fence let the deposed leader write";
  EXPECT_FALSE(find(log, "lost", 2).has_value()) << "the new leader lost its term";
  new_leader.signal(SIGKILL);
  fenced.stop();
  ::close(log_fd);
  std::printf("[ measure  ] %s: the paused leader (token %llu) stepped down (%s); token %llu led\n",
              b.name.c_str(), static_cast<unsigned long long>(old_term.token), lost.more.c_str(),
              static_cast<unsigned long long>(new_term.token));
}

INSTANTIATE_TEST_SUITE_P(Backends, Leader, ::testing::ValuesIn(testing::every_backend()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace heartlock
