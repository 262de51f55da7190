#include "../../src/file/name_codec.h"

#include <set>

#include <gtest/gtest.h>

namespace heartlock::detail {
namespace {

TEST(NameCodecTest, PlainNamesStayReadable) {
  EXPECT_EQ(lock_file_name("nightly-backup_2"), "nightly-backup_2.lock");
  EXPECT_EQ(lock_file_name("a.b"), "a.b.lock");
}

TEST(NameCodecTest, NothingEscapesTheDirectory) {
  for (std::string name : {"../x", "a/b", "/etc/passwd", "..", ".", ".hidden", "a/../../b",
                           "with space", "tab\there", "naïve ☃", "\xff\xfe", "%2F"}) {
    std::string file = lock_file_name(name);
    EXPECT_EQ(file.find('/'), std::string::npos) << name;
    EXPECT_NE(file.front(), '.') << name;
    EXPECT_LE(file.size(), 255u) << name;
    EXPECT_EQ(name_from_file(file), name) << name;
  }
}

TEST(NameCodecTest, DistinctNamesGetDistinctFiles) {
  std::set<std::string> files;
  std::vector<std::string> names = {"a/b", "a%2Fb", "a_b", "a b", "a.b", "a%b", "A/B", "a/b/"};
  for (const auto& n : names) {
    files.insert(lock_file_name(n));
  }
  EXPECT_EQ(files.size(), names.size());
}

TEST(NameCodecTest, LongNamesAreHashedAndStillDistinct) {
  std::string a(512, '/');
  std::string b = a;
  b.back() = 'x';
  std::string fa = lock_file_name(a);
  std::string fb = lock_file_name(b);
  EXPECT_LE(fa.size(), 255u);
  EXPECT_NE(fa, fb);
  EXPECT_NE(fa.find('~'), std::string::npos);
  EXPECT_FALSE(name_from_file(fa)) << "hashed names cannot be decoded; the record has the name";
}

TEST(NameCodecTest, ForeignFilesAreNotDecoded) {
  EXPECT_FALSE(name_from_file("notes.txt"));
  EXPECT_FALSE(name_from_file("a%zz.lock"));
  EXPECT_FALSE(name_from_file(".lock"));
  EXPECT_FALSE(name_from_file("a/b.lock"));
}

}  // namespace
}  // namespace heartlock::detail
