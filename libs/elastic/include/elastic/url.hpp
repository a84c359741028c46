#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace iot::elastic {

// One Elasticsearch node from --elasticsearch-url. Credentials are never part of it: a URL with
// user:password@ is refused (they come from their own flags or files, so they never reach logs).
struct NodeUrl {
  bool tls = false;               // https
  std::string host;               // name or address; IPv6 without brackets
  unsigned short port = 9200;     // default 9200 for both schemes, as Elasticsearch listens there
  std::string path_prefix;        // "" or "/proxy/es" (no trailing slash), for nodes behind a proxy
  std::string to_string() const;  // "https://es-0.example:9200/proxy/es"
};

// Parses "http[s]://host[:port][/prefix]"; throws std::invalid_argument with a one-line reason.
NodeUrl parse_node_url(std::string_view text);
// Comma-separated list, at least one; spaces around commas allowed.
std::vector<NodeUrl> parse_node_urls(std::string_view text);

}  // namespace iot::elastic
