#include "elastic/url.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace iot::elastic {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string parse_error(std::string_view text) {
  try {
    parse_node_url(text);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

std::string parse_list_error(std::string_view text) {
  try {
    parse_node_urls(text);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(NodeUrlTest, HttpWithDefaultPort) {
  const NodeUrl url = parse_node_url("http://es-0.example");
  EXPECT_FALSE(url.tls);
  EXPECT_EQ(url.host, "es-0.example");
  EXPECT_EQ(url.port, 9200);
  EXPECT_EQ(url.path_prefix, "");
  EXPECT_EQ(url.to_string(), "http://es-0.example:9200");
}

TEST(NodeUrlTest, HttpsWithPortAndPrefix) {
  const NodeUrl url = parse_node_url("https://es-0.example:443/proxy/es");
  EXPECT_TRUE(url.tls);
  EXPECT_EQ(url.host, "es-0.example");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.path_prefix, "/proxy/es");
  EXPECT_EQ(url.to_string(), "https://es-0.example:443/proxy/es");
}

TEST(NodeUrlTest, HttpsDefaultsTo9200) {
  EXPECT_EQ(parse_node_url("https://es").port, 9200);
}

TEST(NodeUrlTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(parse_node_url("HTTPS://es").tls);
  EXPECT_TRUE(parse_node_url("HtTpS://es").tls);
  EXPECT_FALSE(parse_node_url("HTTP://es").tls);
}

TEST(NodeUrlTest, OtherSchemesAreRefused) {
  EXPECT_THAT(parse_error("ftp://es"), HasSubstr("http or https"));
  EXPECT_THAT(parse_error("httpss://es"), HasSubstr("http or https"));
  EXPECT_THAT(parse_error("://es"), HasSubstr("http or https"));
  EXPECT_THAT(parse_error("es:9200"), HasSubstr("http[s]://"));
  EXPECT_THAT(parse_error(""), HasSubstr("http[s]://"));
}

TEST(NodeUrlTest, Ipv4) {
  const NodeUrl url = parse_node_url("http://10.0.0.7:9201");
  EXPECT_EQ(url.host, "10.0.0.7");
  EXPECT_EQ(url.port, 9201);
}

TEST(NodeUrlTest, Ipv6InBrackets) {
  const NodeUrl url = parse_node_url("http://[fd00::7]:9201/es/");
  EXPECT_EQ(url.host, "fd00::7");
  EXPECT_EQ(url.port, 9201);
  EXPECT_EQ(url.path_prefix, "/es");
  EXPECT_EQ(url.to_string(), "http://[fd00::7]:9201/es");

  const NodeUrl loopback = parse_node_url("https://[::1]");
  EXPECT_EQ(loopback.host, "::1");
  EXPECT_EQ(loopback.port, 9200);
  EXPECT_EQ(loopback.to_string(), "https://[::1]:9200");
  EXPECT_EQ(parse_node_url("http://[::ffff:10.0.0.1]").host, "::ffff:10.0.0.1");
}

TEST(NodeUrlTest, MalformedIpv6IsRefused) {
  EXPECT_THAT(parse_error("http://[fd00::7:9200"), HasSubstr("']'"));
  EXPECT_THAT(parse_error("http://[]:9200"), HasSubstr("IPv6"));
  EXPECT_THAT(parse_error("http://[es-0]:9200"), HasSubstr("IPv6"));
  EXPECT_THAT(parse_error("http://[::1]9200"), HasSubstr("':port'"));
  EXPECT_THAT(parse_error("http://fd00::7"), HasSubstr("brackets"));
}

TEST(NodeUrlTest, PortRange) {
  EXPECT_EQ(parse_node_url("http://es:1").port, 1);
  EXPECT_EQ(parse_node_url("http://es:65535").port, 65535);
  for (const std::string_view text :
       {"http://es:0", "http://es:65536", "http://es:", "http://es:-1", "http://es:+1",
        "http://es:92a0", "http://es:99999999999999999999999",
        "http://[::1]:", "http://[::1]:70000"}) {
    EXPECT_THAT(parse_error(text), HasSubstr("1 to 65535")) << text;
  }
}

TEST(NodeUrlTest, TrailingSlashesAreStripped) {
  EXPECT_EQ(parse_node_url("http://es/").path_prefix, "");
  EXPECT_EQ(parse_node_url("http://es:9200/").path_prefix, "");
  EXPECT_EQ(parse_node_url("http://es/proxy/es//").path_prefix, "/proxy/es");
  EXPECT_EQ(parse_node_url("http://es/").to_string(), "http://es:9200");
}

TEST(NodeUrlTest, BadHostIsRefused) {
  EXPECT_THAT(parse_error("http://"), HasSubstr("missing host"));
  EXPECT_THAT(parse_error("http://:9200"), HasSubstr("missing host"));
  EXPECT_THAT(parse_error("http:///es"), HasSubstr("missing host"));
  EXPECT_THAT(parse_error("http://es 0:9200"), HasSubstr("host"));
}

TEST(NodeUrlTest, PathWithSpacesIsRefused) {
  EXPECT_THAT(parse_error("http://es/my proxy"), HasSubstr("percent-encoding"));
  EXPECT_EQ(parse_node_url("http://es/my%20proxy").path_prefix, "/my%20proxy");
}

TEST(NodeUrlTest, CredentialsAreRefusedWithoutEcho) {
  // The same fixed message whatever the URL holds, even when the password contains '/', '?' or
  // '#' and would otherwise end the authority early.
  for (const std::string_view text :
       {"http://elastic:s3cret@es:9200", "https://elastic@es", "http://u:s3/cret@es",
        "http://u:s3?cret@es", "http://u:s3#cret@es", "http://es/prefix@x"}) {
    EXPECT_EQ(parse_error(text),
              "credentials are not allowed in the URL: put them in "
              "--elasticsearch-username/--elasticsearch-password or the API key")
        << text;
  }
}

TEST(NodeUrlTest, QueryAndFragmentAreRefused) {
  EXPECT_THAT(parse_error("http://es:9200/?pretty"), HasSubstr("query or fragment"));
  EXPECT_THAT(parse_error("http://es?x=1"), HasSubstr("query or fragment"));
  EXPECT_THAT(parse_error("http://es/es#top"), HasSubstr("query or fragment"));
}

TEST(NodeUrlListTest, SingleEntry) {
  const auto urls = parse_node_urls("http://es:9200");
  ASSERT_EQ(urls.size(), 1u);
  EXPECT_EQ(urls[0].host, "es");
}

TEST(NodeUrlListTest, SeveralEntriesWithSpaces) {
  const auto urls = parse_node_urls(" http://es-0:9200 ,https://es-1,  http://[::1]:9201/p/ ");
  ASSERT_EQ(urls.size(), 3u);
  EXPECT_EQ(urls[0].to_string(), "http://es-0:9200");
  EXPECT_EQ(urls[1].to_string(), "https://es-1:9200");
  EXPECT_EQ(urls[2].to_string(), "http://[::1]:9201/p");
}

TEST(NodeUrlListTest, AtLeastOneIsRequired) {
  EXPECT_THAT(parse_list_error(""), HasSubstr("at least one"));
  EXPECT_THAT(parse_list_error("   "), HasSubstr("at least one"));
}

TEST(NodeUrlListTest, EmptyEntryIsNamed) {
  EXPECT_THAT(parse_list_error("http://a,,http://b"), HasSubstr("entry 2 is empty"));
  EXPECT_THAT(parse_list_error("http://a,"), HasSubstr("entry 2 is empty"));
  EXPECT_THAT(parse_list_error(",http://a"), HasSubstr("entry 1 is empty"));
}

TEST(NodeUrlListTest, BadEntryIsNamedWithItsReason) {
  EXPECT_EQ(parse_list_error("http://a, http://b:99999"),
            "entry 2 'http://b:99999': port must be a number from 1 to 65535");
  EXPECT_EQ(parse_list_error("ftp://a"), "entry 1 'ftp://a': scheme must be http or https");
}

TEST(NodeUrlListTest, EntryWithCredentialsIsNamedOnlyByPosition) {
  const std::string error = parse_list_error("http://a,https://elastic:s3cret@es-1.example:9200");
  EXPECT_THAT(error, HasSubstr("entry 2: credentials"));
  EXPECT_THAT(error, Not(HasSubstr("s3cret")));
  EXPECT_THAT(error, Not(HasSubstr("elastic:")));
  EXPECT_THAT(error, Not(HasSubstr("es-1.example")));
}

TEST(NodeUrlListTest, LongOrControlCharactersAreNotEchoedVerbatim) {
  const std::string error = parse_list_error("http://es\n0:9200," + std::string(500, 'x'));
  EXPECT_THAT(error, HasSubstr("entry 1 'http://es?0:9200'"));
  const std::string long_error = parse_list_error("http://a," + std::string(500, 'x'));
  EXPECT_THAT(long_error, HasSubstr("entry 2 'xxx"));
  EXPECT_THAT(long_error, HasSubstr("...'"));
  EXPECT_LT(long_error.size(), 200u);
}

}  // namespace
}  // namespace iot::elastic
