// One `heartlock cron` daemon on the file backend: its jobs' environment and output, SIGHUP with
// a good and a bad file, SIGTERM while a job runs (it ends within the grace, or is stopped).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "heartlock/ledger.h"

#include "../support/backends.h"
#include "../support/cron_daemons.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::CronDaemons;
using testing::eventually;

testing::Backend file_backend() { return testing::every_backend().front(); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CronDaemonTest, JobsGetTheirSlotTokenAndEnvironmentAndTheirOutputIsPrefixed) {
  CronDaemons d(file_backend(), "* * * * * *", "",
                "echo \"slot=$HEARTLOCK_SLOT job=$HEARTLOCK_JOB token=$HEARTLOCK_TOKEN "
                "greeting=$GREETING\"; echo oops >&2");
  {
    // An environment line before the job, as in any crontab.
    std::string text;
    std::ifstream in(d.crontab());
    std::getline(in, text, '\0');
    std::ofstream(d.crontab()) << "GREETING=hello world\n" << text;
  }
  d.start(0);
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), d.job() + ": oops"); })) << d.output();
  d.stop(0);
  const std::string out = d.output(0);
  EXPECT_TRUE(contains(out, d.job() + ": slot=20")) << out;
  EXPECT_TRUE(contains(out, "job=" + d.job() + " token=")) << out;
  EXPECT_TRUE(contains(out, "greeting=hello world")) << out;
  EXPECT_FALSE(contains(out, "token= ")) << out;
}

TEST(CronDaemonTest, JsonOutputIsOneObjectPerLine) {
  CronDaemons d(file_backend(), "* * * * * *", "", "echo \"tab\there\"");
  d.start(0, {"--log-format", "json"});
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), "\"stream\":\"stdout\""); }))
      << d.output();
  d.stop(0);
  std::istringstream in(d.output(0));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    if (!contains(line, "\"stream\"")) {
      continue;  // the daemon's own events (text on stderr)
    }
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["job"], d.job());
    EXPECT_EQ(j["line"], "tab\there");
    EXPECT_NE(testing::parse_slot(j["slot"].get<std::string>()).time_since_epoch().count(), 0);
    ++lines;
  }
  EXPECT_GT(lines, 0);
}

TEST(CronDaemonTest, SighupLoadsAGoodFileAndKeepsTheOldJobsOnABadOne) {
  CronDaemons d(file_backend(), "* * * * * *", "", "echo first");
  d.start(0);
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), ": first"); })) << d.output();
  std::ofstream(d.crontab()) << "# heartlock: name=second\n* * * * * * echo second\n";
  d.signal(0, SIGHUP);
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), "second: second"); })) << d.output();
  EXPECT_TRUE(contains(d.output(0), "1 added, 0 changed, 1 removed")) << d.output();
  std::ofstream(d.crontab()) << "# heartlock: name=second\n* * * * * * echo second\n"
                             << "61 * * * * echo bad\n";
  d.signal(0, SIGHUP);
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), "reload failed"); })) << d.output();
  EXPECT_TRUE(contains(d.output(0), ":3: ")) << d.output();  // FILE:LINE of the bad line
  const auto seen = d.output(0).size();
  EXPECT_TRUE(eventually([&] {
    return d.output(0).find("second: second", seen) != std::string::npos;
  })) << "the old jobs must go on after a bad reload\n"
      << d.output();
  d.stop(0);
}

TEST(CronDaemonTest, SigtermLetsARunningJobEndWithinTheGrace) {
  CronDaemons d(file_backend(), "* * * * * *", "", "echo started; sleep 1; echo finished");
  d.start(0);
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), ": started"); })) << d.output();
  d.stop(0);  // --shutdown-grace 5s
  EXPECT_TRUE(contains(d.output(0), ": finished")) << d.output();
}

TEST(CronDaemonTest, SigtermStopsAJobThatOutlivesTheGrace) {
  CronDaemons d(file_backend(), "* * * * * *", "kill-grace=1s", "echo started; exec sleep 60");
  d.start(0, {"--shutdown-grace", "500ms"});
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), ": started"); })) << d.output();
  const auto t0 = std::chrono::steady_clock::now();
  d.stop(0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s) << d.output();
  EXPECT_TRUE(contains(d.output(0), "stopping the 1 job(s) still running")) << d.output();
  bool failed = false;
  for (const auto& [slot, state] : d.ledger()) {
    failed = failed || state == RunState::failed;
  }
  EXPECT_TRUE(failed) << "the stopped run is recorded as failed";
}

// Scraped over HTTP while the daemon runs, and parsed by Prometheus' own Python parser.
TEST(CronDaemonTest, MetricsAreServedAndParseAsPrometheusText) {
  if (testing::run_command({"/usr/bin/python3", "-c", "import prometheus_client"}).exit_code != 0) {
    GTEST_SKIP() << "no /usr/bin/python3 with prometheus_client (scripts/install-deps.sh "
                    "installs python3-prometheus-client)";
  }
  CronDaemons d(file_backend(), "* * * * * *", "", "exit 3");
  d.start(0, {"--metrics-listen", "127.0.0.1:0"});
  std::string port;
  ASSERT_TRUE(eventually([&] {
    const std::string out = d.output(0);
    const auto at = out.find("(port ");
    if (at == std::string::npos) {
      return false;
    }
    port = out.substr(at + 6, out.find(')', at) - at - 6);
    return true;
  })) << d.output();
  ASSERT_TRUE(eventually([&] { return contains(d.output(0), "exit status 3"); })) << d.output();
  std::ofstream(d.file("scrape.py"))
      << "import sys, urllib.request\n"
         "from prometheus_client.parser import text_string_to_metric_families\n"
         "text = urllib.request.urlopen('http://127.0.0.1:' + sys.argv[1] + '/metrics').read()\n"
         "for family in text_string_to_metric_families(text.decode()):\n"
         "    for s in family.samples:\n"
         "        if s.labels.get('job') == sys.argv[2] or not s.labels:\n"
         "            print(s.name, s.labels.get('outcome', s.labels.get('reason', '')), "
         "s.value)\n";
  auto r = testing::run_command({"/usr/bin/python3", d.file("scrape.py"), port, d.job()});
  d.stop(0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "heartlock_cron_jobs  1.0")) << r.out;
  EXPECT_TRUE(contains(r.out, "heartlock_cron_last_exit_code  3.0")) << r.out;
  EXPECT_TRUE(contains(r.out, "heartlock_cron_store_up  1.0")) << r.out;
  EXPECT_FALSE(contains(r.out, "heartlock_cron_runs_total failed 0.0")) << r.out;
  EXPECT_TRUE(contains(r.out, "heartlock_cron_lateness_seconds_count")) << r.out;
}

TEST(CronDaemonTest, AnInvalidFileIsRefusedBeforeAnythingRuns) {
  testing::TempDir dir;
  std::ofstream(dir.file("crontab")) << "61 * * * * echo bad minute\n";
  auto r = testing::run_command({testing::heartlock_binary(), "-b", "file://" + dir.file("locks"),
                                 "cron", dir.file("crontab")});
  EXPECT_EQ(r.exit_code, 64) << r.err;
  EXPECT_TRUE(contains(r.err, "crontab:1: ")) << r.err;
  r = testing::run_command({testing::heartlock_binary(), "cron", dir.file("missing")});
  EXPECT_EQ(r.exit_code, 66) << r.err;
}

}  // namespace
}  // namespace heartlock
