// The metrics registry of `heartlock cron` (cli/cron_metrics.h).
#include "../../cli/cron_metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../../cli/prometheus_text.h"

namespace heartlock::cli {
namespace {

using namespace std::chrono_literals;

CronMetrics fixed_metrics() {
  return CronMetrics("1.2.3", [] { return std::chrono::system_clock::time_point(1'700'000'000s); });
}

TEST(CronMetricsTest, RendersASmallCaseExactly) {
  CronMetrics m = fixed_metrics();
  m.reload(true);
  m.set_jobs({"backup"});
  m.set_store_healthy(true);
  m.run_finished("backup", "done", 1500ms, 0, std::nullopt);
  m.skipped("backup", "other_host");
  m.lateness("backup", 30ms);
  EXPECT_EQ(m.render(), R"(# HELP heartlock_cron_build_info heartlock's version; always 1.
# TYPE heartlock_cron_build_info gauge
heartlock_cron_build_info{version="1.2.3"} 1
# HELP heartlock_cron_jobs Jobs in the crontab now loaded.
# TYPE heartlock_cron_jobs gauge
heartlock_cron_jobs 1
# HELP heartlock_cron_store_up 1 while the lock store answers, else 0.
# TYPE heartlock_cron_store_up gauge
heartlock_cron_store_up 1
# HELP heartlock_cron_reloads_total Crontab loads and reloads, by result.
# TYPE heartlock_cron_reloads_total counter
heartlock_cron_reloads_total{result="failed"} 0
heartlock_cron_reloads_total{result="ok"} 1
# HELP heartlock_cron_last_reload_successful 1 if the last crontab (re)load succeeded.
# TYPE heartlock_cron_last_reload_successful gauge
heartlock_cron_last_reload_successful 1
# HELP heartlock_cron_runs_total Runs this host finished, by outcome.
# TYPE heartlock_cron_runs_total counter
heartlock_cron_runs_total{job="backup",outcome="done"} 1
heartlock_cron_runs_total{job="backup",outcome="failed"} 0
# HELP heartlock_cron_skipped_total Slots this host did not run, by reason.
# TYPE heartlock_cron_skipped_total counter
heartlock_cron_skipped_total{job="backup",reason="other_host"} 1
# HELP heartlock_cron_store_errors_total Lock store errors met for the job.
# TYPE heartlock_cron_store_errors_total counter
heartlock_cron_store_errors_total{job="backup"} 0
# HELP heartlock_cron_missed_slots_total Slots of the job that no host started.
# TYPE heartlock_cron_missed_slots_total counter
heartlock_cron_missed_slots_total{job="backup"} 0
# HELP heartlock_cron_running Runs of the job in progress on this host.
# TYPE heartlock_cron_running gauge
heartlock_cron_running{job="backup"} 0
# HELP heartlock_cron_last_run_duration_seconds How long the last finished run took.
# TYPE heartlock_cron_last_run_duration_seconds gauge
heartlock_cron_last_run_duration_seconds{job="backup"} 1.5
# HELP heartlock_cron_last_run_timestamp_seconds When the last run finished, Unix time.
# TYPE heartlock_cron_last_run_timestamp_seconds gauge
heartlock_cron_last_run_timestamp_seconds{job="backup"} 1700000000
# HELP heartlock_cron_last_success_timestamp_seconds When a run last finished done, Unix time.
# TYPE heartlock_cron_last_success_timestamp_seconds gauge
heartlock_cron_last_success_timestamp_seconds{job="backup"} 1700000000
# HELP heartlock_cron_last_exit_code Exit status of the last run as a shell reports it: the code, or 128+N for signal N.
# TYPE heartlock_cron_last_exit_code gauge
heartlock_cron_last_exit_code{job="backup"} 0
# HELP heartlock_cron_last_signal The signal that ended the last run; 0 if it exited.
# TYPE heartlock_cron_last_signal gauge
heartlock_cron_last_signal{job="backup"} 0
# HELP heartlock_cron_lateness_seconds How late runs started after their slot.
# TYPE heartlock_cron_lateness_seconds histogram
heartlock_cron_lateness_seconds_bucket{le="0.01"} 0
heartlock_cron_lateness_seconds_bucket{le="0.025"} 0
heartlock_cron_lateness_seconds_bucket{le="0.05"} 1
heartlock_cron_lateness_seconds_bucket{le="0.1"} 1
heartlock_cron_lateness_seconds_bucket{le="0.25"} 1
heartlock_cron_lateness_seconds_bucket{le="0.5"} 1
heartlock_cron_lateness_seconds_bucket{le="1"} 1
heartlock_cron_lateness_seconds_bucket{le="2.5"} 1
heartlock_cron_lateness_seconds_bucket{le="5"} 1
heartlock_cron_lateness_seconds_bucket{le="10"} 1
heartlock_cron_lateness_seconds_bucket{le="30"} 1
heartlock_cron_lateness_seconds_bucket{le="60"} 1
heartlock_cron_lateness_seconds_bucket{le="+Inf"} 1
heartlock_cron_lateness_seconds_sum 0.03
heartlock_cron_lateness_seconds_count 1
)");
}

TEST(CronMetricsTest, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain.job-1"), "plain.job-1");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  CronMetrics m = fixed_metrics();
  m.set_jobs({"say \"hi\"\n"});
  EXPECT_NE(m.render().find("heartlock_cron_running{job=\"say \\\"hi\\\"\\n\"} 0\n"),
            std::string::npos);
}

TEST(CronMetricsTest, ARemovedJobLeavesTheGaugesButKeepsItsCounters) {
  CronMetrics m = fixed_metrics();
  m.set_jobs({"a", "b"});
  m.run_finished("b", "failed", 20ms, 3, std::nullopt);
  m.set_running("b", 1);
  m.set_jobs({"a"});
  const std::string text = m.render();
  EXPECT_NE(text.find("heartlock_cron_runs_total{job=\"b\",outcome=\"failed\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("heartlock_cron_running{job=\"b\"}"), std::string::npos);
  EXPECT_EQ(text.find("heartlock_cron_last_exit_code{job=\"b\"}"), std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_running{job=\"a\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_jobs 1\n"), std::string::npos);
}

TEST(CronMetricsTest, ASignalledRunReportsTheSignalAndTheShellStatus) {
  CronMetrics m = fixed_metrics();
  m.set_jobs({"j"});
  m.run_finished("j", "failed", 2ms, std::nullopt, 15);
  const std::string text = m.render();
  EXPECT_NE(text.find("heartlock_cron_last_exit_code{job=\"j\"} 143\n"), std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_last_signal{job=\"j\"} 15\n"), std::string::npos);
  EXPECT_EQ(text.find("heartlock_cron_last_success_timestamp_seconds{"), std::string::npos);
}

TEST(CronMetricsTest, LatenessPastTheLastBucketCountsOnlyInInf) {
  CronMetrics m = fixed_metrics();
  m.lateness("j", 90s);
  m.lateness("j", -5ms);  // early: counted as 0
  const std::string text = m.render();
  EXPECT_NE(text.find("heartlock_cron_lateness_seconds_bucket{le=\"0.01\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_lateness_seconds_bucket{le=\"60\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_lateness_seconds_bucket{le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_lateness_seconds_sum 90\n"), std::string::npos);
}

TEST(CronMetricsTest, UpdatesFromManyThreadsWhileRenderingAreAllCounted) {
  CronMetrics m;
  m.set_jobs({"j"});
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      EXPECT_FALSE(m.render().empty());
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        m.run_finished("j", "done", 1ms, 0, std::nullopt);
        m.lateness("j", 1ms);
        m.set_running("j", i % 2);
      }
    });
  }
  for (auto& w : writers) {
    w.join();
  }
  done = true;
  reader.join();
  const std::string text = m.render();
  EXPECT_NE(text.find("heartlock_cron_runs_total{job=\"j\",outcome=\"done\"} 2000\n"),
            std::string::npos);
  EXPECT_NE(text.find("heartlock_cron_lateness_seconds_count 2000\n"), std::string::npos);
}

// Prometheus's own Python client parses the exposition: every family with its type, and a label
// value with every escaped character reads back as it was.
TEST(CronMetricsTest, PrometheusClientParsesTheExposition) {
  // Debian's python3 first: python3-prometheus-client installs for it, and a python3 found
  // earlier on PATH (pyenv, a virtualenv) may lack the module.
  std::string python;
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe =
        std::string(candidate) + " -c 'import prometheus_client.parser' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    GTEST_SKIP() << "python3 with prometheus_client is not installed "
                    "(scripts/install-deps.sh installs python3-prometheus-client)";
  }
  CronMetrics m = fixed_metrics();
  const std::string weird = "we\"ird\\job\nx";
  m.reload(false);
  m.set_jobs({"backup", weird});
  m.run_finished(weird, "done", 1ms, 0, std::nullopt);
  m.skipped("backup", "running");
  m.store_error("backup");
  m.missed("backup", 3);
  m.lateness("backup", 2s);
  const auto dir =
      std::filesystem::temp_directory_path() / ("heartlock-metrics-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "metrics") << m.render();
  const std::string script =
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families as parse\n"
      "for f in parse(open(sys.argv[1]).read()):\n"
      "    print(f.name, f.type, len(f.samples))\n"
      "    for s in f.samples:\n"
      "        if s.labels.get('job') == 'we\"ird\\\\job\\nx':\n"
      "            print('weird', s.name)\n";
  std::ofstream(dir / "parse.py") << script;
  const std::string command =
      python + " " + (dir / "parse.py").string() + " " + (dir / "metrics").string();
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) {
    out.append(buf, n);
  }
  const int status = ::pclose(pipe);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  // The parser names counters without _total, as OpenMetrics does.
  for (const char* family :
       {"heartlock_cron_build_info gauge 1", "heartlock_cron_jobs gauge 1",
        "heartlock_cron_store_up gauge 1", "heartlock_cron_reloads counter 2",
        "heartlock_cron_last_reload_successful gauge 1", "heartlock_cron_runs counter 4",
        "heartlock_cron_skipped counter 1", "heartlock_cron_store_errors counter 2",
        "heartlock_cron_missed_slots counter 2", "heartlock_cron_running gauge 2",
        "heartlock_cron_last_run_duration_seconds gauge 1",
        "heartlock_cron_last_run_timestamp_seconds gauge 1",
        "heartlock_cron_last_success_timestamp_seconds gauge 1",
        "heartlock_cron_last_exit_code gauge 1", "heartlock_cron_last_signal gauge 1",
        "heartlock_cron_lateness_seconds histogram 15"}) {
    EXPECT_NE(out.find(std::string(family) + "\n"), std::string::npos) << family << "\n" << out;
  }
  EXPECT_NE(out.find("weird heartlock_cron_runs_total\n"), std::string::npos) << out;
  EXPECT_NE(out.find("weird heartlock_cron_last_exit_code\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace heartlock::cli
