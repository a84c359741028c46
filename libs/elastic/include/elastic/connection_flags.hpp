#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/flag_set.hpp"
#include "elastic/url.hpp"

namespace iot::elastic {

// The flags every program that talks to Elasticsearch takes, checked the same way everywhere:
// --elasticsearch-url URL[,URL...], --elasticsearch-api-key, --elasticsearch-username and
// --elasticsearch-password (each also as --...-file PATH for mounted Secrets, without one
// trailing line break), --elasticsearch-ca FILE and --elasticsearch-insecure. Error messages
// name the setting and never show a credential.
class ConnectionFlags {
 public:
  ConnectionFlags();
  ~ConnectionFlags();
  ConnectionFlags(const ConnectionFlags&) = delete;
  ConnectionFlags& operator=(const ConnectionFlags&) = delete;

  // The flags point into this object: it must outlive flags.parse().
  void add_to(cli::FlagSet& flags);

  struct Connection {
    std::optional<std::vector<NodeUrl>> nodes;  // nullopt: no --elasticsearch-url
    // The Authorization header value: "ApiKey <key>" or "Basic <base64(user:password)>".
    std::optional<std::string> authorization;
    std::string ca_file;
    bool insecure = false;
  };
  // After parsing: the connection, with the combination of credentials checked (an API key or
  // a user with a password, each given one way). Throws cli::UsageError.
  Connection finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace iot::elastic
