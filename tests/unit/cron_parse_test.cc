// CronSchedule::parse: what it rejects, and that each message names the field, text and reason.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/cron.h"

namespace heartlock {
namespace {

struct Rejected {
  const char* expr;
  std::vector<const char*> says;  // substrings the message must hold
};

TEST(CronParseTest, RejectsWithAMessageThatPointsAtTheField) {
  for (const Rejected& r : std::vector<Rejected>{
           {"0 0 31 2 *", {"day-of-month field \"31\"", "month field \"2\"", "never fire"}},
           {"0 0 30 2 *", {"day-of-month field \"30\"", "never fire"}},
           {"0 0 31 4,6 *", {"day-of-month field \"31\"", "never fire"}},
           {"0 22-2 * * *", {"hour field \"22-2\"", "backwards"}},
           {"60 * * * *", {"minute field \"60\"", "out of range 0-59"}},
           {"0 24 * * *", {"hour field \"24\"", "out of range 0-23"}},
           {"0 0 0 * *", {"day-of-month field \"0\"", "out of range 1-31"}},
           {"0 0 * 13 *", {"month field \"13\"", "out of range 1-12"}},
           {"0 0 * * 8", {"day-of-week field \"8\"", "out of range 0-7"}},
           {"*/0 * * * *", {"minute field \"*/0\"", "step 0"}},
           {"*/61 * * * *", {"minute field \"*/61\"", "step 61"}},
           {"1,,2 * * * *", {"minute field \"1,,2\"", "empty"}},
           {"* * * *", {"4 fields"}},
           {"0 0 0 * * * 2026", {"7 fields"}},
           {"5x * * * *", {"minute field \"5x\"", "not a number"}},
           {"0 0 * * FRY", {"day-of-week field \"FRY\"", "not a number or a name"}},
           {"0 0 * * 5#6", {"day-of-week field \"5#6\"", "#1 to #5"}},
           {"0 0 32W * *", {"day-of-month field \"32W\"", "out of range"}},
           {"? * * * *", {"minute field \"?\""}},
           {"@reboot", {"@reboot", "not a schedule macro"}},
           {"@daily extra", {"not a schedule macro"}},
           {"@every 0s", {"@every"}},
           {"@every 1500ms", {"whole seconds"}},
           {"", {"empty"}},
       }) {
    auto s = CronSchedule::parse(r.expr, "UTC");
    ASSERT_FALSE(s.has_value()) << r.expr;
    EXPECT_EQ(s.error().code, Errc::invalid_argument) << r.expr;
    for (const char* part : r.says) {
      EXPECT_NE(s.error().message.find(part), std::string::npos)
          << r.expr << ": \"" << s.error().message << "\" lacks \"" << part << "\"";
    }
  }
}

TEST(CronParseTest, RejectsAnUnknownZone) {
  auto s = CronSchedule::parse("0 0 * * *", "Mars/Olympus_Mons");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
  EXPECT_NE(s.error().message.find("Mars/Olympus_Mons"), std::string::npos) << s.error().message;
  auto prefixed = CronSchedule::parse("CRON_TZ=Nowhere 0 0 * * *");
  ASSERT_FALSE(prefixed.has_value());
  EXPECT_NE(prefixed.error().message.find("Nowhere"), std::string::npos);
}

TEST(CronParseTest, AcceptsWhatCronieAccepts) {
  for (const char* expr : {"0 0 29 2 *", "0 0 31 1-12 *", "0 0 * * 0-7", "0 0 31 2 1",
                           "*/5 * * * *", "0 9-17/2 * * mon-FRI", "0 0 L * ?", "0 0 1,LW * *"}) {
    auto s = CronSchedule::parse(expr, "UTC");
    EXPECT_TRUE(s.has_value()) << expr << ": " << s.error().message;
  }
}

}  // namespace
}  // namespace heartlock
