#include "sink/file_sink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace iot::sink {
namespace {

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("file-sink-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::filesystem::path dir_;
};

TEST_F(FileSinkTest, CreatesParentDirectoriesAndAppends) {
  const auto path = dir_ / "nested" / "events.ndjson";
  {
    FileSink sink(path);
    EXPECT_FALSE(sink.append("a\n"));
    EXPECT_FALSE(sink.append("b\n"));
    EXPECT_FALSE(sink.sync());
  }
  {
    FileSink reopened(path);  // appends, never truncates
    EXPECT_FALSE(reopened.append("c\n"));
  }
  EXPECT_EQ(read(path), "a\nb\nc\n");
  FileFlusher flusher(path);
  EXPECT_FALSE(flusher.flush());
}

TEST_F(FileSinkTest, ConcurrentWritersNeverInterleaveLines) {
  const auto path = dir_ / "events.ndjson";
  constexpr int kWriters = 4, kLines = 2000;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      FileSink sink(path);  // one handle per worker, as the collector does
      const std::string line(200 + w, static_cast<char>('a' + w));
      for (int i = 0; i < kLines; ++i) ASSERT_FALSE(sink.append(line + "\n"));
    });
  }
  for (auto& t : writers) t.join();
  std::ifstream in(path);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    ++count;
    ASSERT_FALSE(line.empty());
    ASSERT_EQ(line.size(), 200u + static_cast<unsigned>(line[0] - 'a'));
    ASSERT_EQ(line.find_first_not_of(line[0]), std::string::npos) << "interleaved line " << count;
  }
  EXPECT_EQ(count, kWriters * kLines);
}

TEST_F(FileSinkTest, ReportsAWriteErrorInsteadOfIgnoringIt) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "/dev/full not available";
  FileSink sink("/dev/full");
  const auto error = sink.append("x\n");
  EXPECT_TRUE(error);
  EXPECT_EQ(error, std::errc::no_space_on_device);
}

TEST_F(FileSinkTest, ADeviceAsTheSinkHasNothingToSync) {
  // fdatasync on /dev/null fails with EINVAL; the collector logged that as an error at every
  // shutdown of a sink that had lost nothing.
  FileSink sink("/dev/null");
  ASSERT_FALSE(sink.append("x\n"));
  EXPECT_FALSE(sink.sync());
}

TEST_F(FileSinkTest, UnopenablePathThrowsNamingIt) {
  std::filesystem::create_directories(dir_);
  try {
    FileSink sink(dir_);  // a directory cannot be opened for writing
    FAIL() << "expected an exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos);
  }
}

}  // namespace
}  // namespace iot::sink
