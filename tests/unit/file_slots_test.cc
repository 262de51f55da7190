// The file backend's last_slot (src/file/slots.cc): answered from the job's latest-slot file, and
// never stale -- not when another process claims a later slot, not after a restart, not when the
// file names a slot whose file is gone.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_seconds;
using testing::IsOk;

class FileSlotsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto store = Store::open("file://" + dir_.path());
    EXPECT_THAT(store, IsOk());
    return store ? std::move(*store) : nullptr;
  }
  static sys_seconds base() {
    return std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
  }
  std::optional<sys_seconds> last(Store& store, std::string_view job) {
    auto r = store.last_slot(job);
    EXPECT_THAT(r, IsOk());
    return r ? *r : std::nullopt;
  }

  testing::TempDir dir_;
};

// The store asks every time: a later slot another process claimed (a forked child with its own
// store) shows at once in this one's next answer, also after it answered for this job before.
TEST_F(FileSlotsTest, ASlotAnotherProcessClaimedShowsAtOnce) {
  auto store = open();
  ASSERT_TRUE(store);
  const sys_seconds t = base();
  ASSERT_TRUE(store->claim_slot("nightly", t)->won);
  EXPECT_EQ(last(*store, "nightly"), t);
  for (int i = 1; i <= 3; ++i) {
    const sys_seconds later = t + std::chrono::minutes(i);
    const std::string path = dir_.path();
    auto child = testing::Child::fork([path, later] {
      auto other = Store::open("file://" + path);
      return other && (*other)->claim_slot("nightly", later)->won ? 0 : 1;
    });
    ASSERT_EQ(child.exit_code(), 0);
    EXPECT_EQ(last(*store, "nightly"), later) << "stale after the child's claim " << i;
  }
  // An earlier slot claimed afterwards does not move the answer back.
  ASSERT_TRUE(store->claim_slot("nightly", t - 1min)->won);
  EXPECT_EQ(last(*store, "nightly"), t + 3min);
  // A new store (a restart) gives the same answer.
  EXPECT_EQ(last(*open(), "nightly"), t + 3min);
}

// A latest-slot file naming a slot without a file (a claimer that crashed in between, a slot file
// removed past its retention), or missing (slots claimed by an older heartlock), or unreadable:
// the answer comes from the slot files themselves.
TEST_F(FileSlotsTest, ALatestFileThatNamesNoSlotFileIsNotTrusted) {
  auto store = open();
  ASSERT_TRUE(store);
  const sys_seconds t = base();
  ASSERT_TRUE(store->claim_slot("nightly", t)->won);
  ASSERT_TRUE(store->claim_slot("nightly", t + 1min)->won);
  const std::string latest = dir_.file("nightly@latest");
  std::ofstream(latest, std::ios::trunc) << (t + 5min).time_since_epoch().count() << "\n";
  EXPECT_EQ(last(*store, "nightly"), t + 1min);
  ASSERT_EQ(::unlink(latest.c_str()), 0);
  EXPECT_EQ(last(*store, "nightly"), t + 1min);
  std::ofstream(latest, std::ios::trunc) << "junk";
  EXPECT_EQ(last(*store, "nightly"), t + 1min);
  ASSERT_EQ(::unlink(dir_.file("nightly@" + std::to_string((t + 1min).time_since_epoch().count()) +
                               ".slot")
                         .c_str()),
            0);
  EXPECT_EQ(last(*store, "nightly"), t);
  // The next claim writes it again.
  ASSERT_TRUE(store->claim_slot("nightly", t + 2min)->won);
  EXPECT_EQ(last(*store, "nightly"), t + 2min);
  EXPECT_EQ(last(*store, "other"), std::nullopt);
}

}  // namespace
}  // namespace heartlock
