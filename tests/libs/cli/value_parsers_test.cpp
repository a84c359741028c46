#include <gtest/gtest.h>

#include <string>

#include "cli/flag_set.hpp"

namespace iot::cli {
namespace {

template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(EnvironmentFrom, SplitsAtFirstEqualsAndKeepsFirstDuplicate) {
  char a[] = "A=1";
  char b[] = "B=x=y";
  char empty[] = "EMPTY=";
  char no_equals[] = "GARBAGE";
  char no_name[] = "=v";
  char dup[] = "A=2";
  char* envp[] = {a, b, empty, no_equals, no_name, dup, nullptr};
  const Environment env = environment_from(envp);
  EXPECT_EQ(env, (Environment{{"A", "1"}, {"B", "x=y"}, {"EMPTY", ""}}));
}

TEST(EnvironmentFrom, NullIsEmpty) {
  EXPECT_TRUE(environment_from(nullptr).empty());
}

TEST(ParseUnsigned, AcceptsTheWholeRange) {
  EXPECT_EQ(parse_unsigned("1", 1, 10), 1U);
  EXPECT_EQ(parse_unsigned("10", 1, 10), 10U);
  EXPECT_EQ(parse_unsigned("007", 1, 10), 7U);
  EXPECT_EQ(parse_unsigned("0", 0, 0), 0U);
  EXPECT_EQ(parse_unsigned("18446744073709551615", 0, UINT64_MAX), UINT64_MAX);
}

TEST(ParseUnsigned, RejectsWithRangeInMessage) {
  for (const char* bad : {"0", "11", "", "x", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x5"}) {
    EXPECT_EQ(usage_error_of([&] { parse_unsigned(bad, 1, 10); }),
              std::string("expected an integer in 1..10, got '") + bad + "'")
        << bad;
  }
  EXPECT_EQ(usage_error_of([] { parse_unsigned("18446744073709551616", 0, UINT64_MAX); }),
            "expected an integer in 0..18446744073709551615, got '18446744073709551616'");
  EXPECT_EQ(usage_error_of([] { parse_unsigned("99999999999999999999999", 1, 10); }),
            "expected an integer in 1..10, got '99999999999999999999999'");
}

TEST(ParseBool, AcceptsTrueFalseOneZero) {
  EXPECT_TRUE(parse_bool("true"));
  EXPECT_TRUE(parse_bool("1"));
  EXPECT_FALSE(parse_bool("false"));
  EXPECT_FALSE(parse_bool("0"));
}

TEST(ParseBool, RejectsAnythingElse) {
  for (const char* bad : {"", "yes", "no", "TRUE", "on", "2"}) {
    EXPECT_EQ(usage_error_of([&] { parse_bool(bad); }),
              std::string("expected true, false, 1 or 0, got '") + bad + "'");
  }
}

TEST(ParseHostPort, Ipv4AndHostNames) {
  HostPort hp = parse_host_port("0.0.0.0:5683");
  EXPECT_EQ(hp.host, "0.0.0.0");
  EXPECT_EQ(hp.port, 5683);
  hp = parse_host_port("collector.iot.svc.cluster.local:0");
  EXPECT_EQ(hp.host, "collector.iot.svc.cluster.local");
  EXPECT_EQ(hp.port, 0);
  hp = parse_host_port("localhost:65535");
  EXPECT_EQ(hp.host, "localhost");
  EXPECT_EQ(hp.port, 65535);
}

TEST(ParseHostPort, BracketedIpv6) {
  HostPort hp = parse_host_port("[::]:5683");
  EXPECT_EQ(hp.host, "::");
  EXPECT_EQ(hp.port, 5683);
  hp = parse_host_port("[2001:db8::1]:8080");
  EXPECT_EQ(hp.host, "2001:db8::1");
  EXPECT_EQ(hp.port, 8080);
  hp = parse_host_port("[fe80::1%eth0]:1");
  EXPECT_EQ(hp.host, "fe80::1%eth0");
}

TEST(ParseHostPort, ToStringBracketsIpv6) {
  EXPECT_EQ((HostPort{"0.0.0.0", 5683}).to_string(), "0.0.0.0:5683");
  EXPECT_EQ((HostPort{"::", 5683}).to_string(), "[::]:5683");
  EXPECT_EQ(parse_host_port("[::1]:7").to_string(), "[::1]:7");
}

TEST(ParseHostPort, Rejects) {
  EXPECT_EQ(usage_error_of([] { parse_host_port("5683"); }), "expected HOST:PORT, got '5683'");
  EXPECT_EQ(usage_error_of([] { parse_host_port(""); }), "expected HOST:PORT, got ''");
  EXPECT_EQ(usage_error_of([] { parse_host_port(":5683"); }), "expected HOST:PORT, got ':5683'");
  EXPECT_EQ(usage_error_of([] { parse_host_port("a b:1"); }), "expected HOST:PORT, got 'a b:1'");
  EXPECT_EQ(usage_error_of([] { parse_host_port("host:"); }),
            "expected HOST:PORT, got 'host:' (PORT must be in 0..65535)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("host:http"); }),
            "expected HOST:PORT, got 'host:http' (PORT must be in 0..65535)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("host:65536"); }),
            "expected HOST:PORT, got 'host:65536' (PORT must be in 0..65535)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("host:-1"); }),
            "expected HOST:PORT, got 'host:-1' (PORT must be in 0..65535)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("::1:5683"); }),
            "expected HOST:PORT, got '::1:5683' (write IPv6 addresses as [::1]:5683)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("[::1]5683"); }),
            "expected HOST:PORT, got '[::1]5683' (write IPv6 addresses as [::1]:5683)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("[::1"); }),
            "expected HOST:PORT, got '[::1' (write IPv6 addresses as [::1]:5683)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("[]:1"); }),
            "expected HOST:PORT, got '[]:1' (not an IPv6 address inside the brackets)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("[1.2.3.4]:1"); }),
            "expected HOST:PORT, got '[1.2.3.4]:1' (not an IPv6 address inside the brackets)");
  EXPECT_EQ(usage_error_of([] { parse_host_port("http://x:80"); }),
            "expected HOST:PORT, got 'http://x:80' (write IPv6 addresses as [::1]:5683)");
}

}  // namespace
}  // namespace iot::cli
