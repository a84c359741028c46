#include "dtls/psk_keys.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace iot::dtls {
namespace {

std::string parse_error(std::string_view text) {
  try {
    PskKeys::parse(text, "psk.txt");
  } catch (const PskFileError& error) {
    return error.what();
  }
  return "no error";
}

TEST(PskKeys, ReadsHexAndBase64KeysCommentsAndBlankLines) {
  const auto keys = PskKeys::parse(
      "# devices of line 3\n"
      "\n"
      "sensor-1  000102030405060708090a0b0c0d0e0F   # hex, any case\n"
      "\tsensor.2\tbase64:AAECAwQFBgcICQoLDA0ODw==\r\n"
      "gw:3 base64:AAECAwQFBgcICQoLDA0ODxAR",
      "psk.txt");
  ASSERT_EQ(keys.size(), 3U);
  EXPECT_EQ(keys.entries()[0].identity, "sensor-1");
  const auto first = keys.find("sensor-1");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 16U);
  EXPECT_EQ((*first)[15], 0x0f);
  const auto second = keys.find("sensor.2");
  ASSERT_TRUE(second);
  EXPECT_TRUE(std::equal(first->begin(), first->end(), second->begin(), second->end()));
  ASSERT_TRUE(keys.find("gw:3"));
  EXPECT_EQ(keys.find("gw:3")->size(), 18U);
  EXPECT_FALSE(keys.find("sensor-3"));
  EXPECT_FALSE(keys.find(""));
}

TEST(PskKeys, BadLinesNameFileAndLineWithoutEchoingKeys) {
  EXPECT_EQ(parse_error("ok 000102030405060708090a0b0c0d0e0f\nlonely\n"),
            "psk.txt:2: expected IDENTITY KEY");
  EXPECT_EQ(parse_error("a 000102030405060708090a0b0c0d0e0f extra"),
            "psk.txt:1: expected IDENTITY KEY, found more fields");
  EXPECT_EQ(parse_error("a/b 000102030405060708090a0b0c0d0e0f"),
            "psk.txt:1: identity 'a/b': 1-128 chars of [A-Za-z0-9._:-] required");
  EXPECT_EQ(parse_error("a 0001020304050607"), "psk.txt:1: key of 'a': 8 bytes; 16..64 required");
  EXPECT_EQ(parse_error("a 000102030405060708090a0b0c0d0e0"),
            "psk.txt:1: key of 'a': odd number of hex digits");
  const std::string secret_like = "s3cr3t-passphrase-not-hex-at-all";
  const std::string error = parse_error("a " + secret_like);
  EXPECT_EQ(error, "psk.txt:1: key of 'a': not hex (write base64 keys as base64:KEY)");
  EXPECT_EQ(parse_error("a base64:AAEC*wQFBgcICQoLDA0ODw=="), "psk.txt:1: key of 'a': not base64");
  EXPECT_EQ(parse_error("a 000102030405060708090a0b0c0d0e0f\na 000102030405060708090a0b0c0d0e0f"),
            "psk.txt:2: identity 'a' given twice");
  EXPECT_EQ(parse_error(std::string(129, 'x') + " 000102030405060708090a0b0c0d0e0f"),
            "psk.txt:1: identity '" + std::string(32, 'x') +
                "': 1-128 chars of [A-Za-z0-9._:-] required");
}

TEST(PskKeys, LoadReportsUnreadableFile) {
  EXPECT_THROW(PskKeys::load("/nonexistent/psk.txt"), PskFileError);
  const std::string path = ::testing::TempDir() + "psk_keys_test.txt";
  std::ofstream(path) << "dev 000102030405060708090a0b0c0d0e0f\n";
  EXPECT_EQ(PskKeys::load(path).size(), 1U);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace iot::dtls
