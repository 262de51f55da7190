#include "heartlock/job_key.h"

#include <gtest/gtest.h>

namespace heartlock {
namespace {

TEST(JobKeyTest, ArgumentBoundariesMatter) {
  EXPECT_NE(job_key({"sh", "-c", "a b"}), job_key({"sh", "-c", "a", "b"}));
  EXPECT_NE(job_key({"a", ""}), job_key({"a"}));
  EXPECT_NE(job_key({"ab", "c"}), job_key({"a", "bc"}));
}

TEST(JobKeyTest, IsStableAndReadable) {
  EXPECT_EQ(job_key({"/usr/bin/backup", "--full"}), job_key({"/usr/bin/backup", "--full"}));
  EXPECT_EQ(job_key({"/usr/bin/backup", "--full"}).rfind("run.backup.", 0), 0u);
}

TEST(JobKeyTest, ShellQuoteIsUnambiguous) {
  EXPECT_EQ(shell_quote({"sh", "-c", "a b"}), "sh -c 'a b'");
  EXPECT_EQ(shell_quote({"echo", "it's", ""}), "echo 'it'\\''s' ''");
}

}  // namespace
}  // namespace heartlock
