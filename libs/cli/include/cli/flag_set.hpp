#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iot::cli {

// A bad flag, value or combination; the message is one line meant for stderr, e.g.
// "--max-payload: expected a positive integer, got 'abc'". Programs exit with status 2 on it.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The process environment as data, so tests control it.
using Environment = std::map<std::string, std::string, std::less<>>;
Environment environment_from(char** envp);

// Declarative command-line flags that also read environment variables (12-factor):
// each flag `--some-flag` also reads `<PREFIX>SOME_FLAG` (upper case, '-' -> '_'); flags win
// over the environment, the environment over defaults.
// Accepted forms: `--name value`, `--name=value`; boolean flags also `--name` alone and
// `--name=true|false`; environment booleans accept true/false/1/0.
class FlagSet {
 public:
  // env_prefix e.g. "IOT_COLLECTOR_".
  FlagSet(std::string program, std::string summary, std::string env_prefix);

  // `parse` converts the text to the target and throws UsageError (without the flag name; the
  // FlagSet adds "--name: ") when it is invalid. `value_name` is shown in --help ("HOST:PORT").
  void add(std::string name, std::string value_name, std::string help, std::string default_text,
           std::function<void(std::string_view)> parse);
  void add_bool(std::string name, std::string help, bool* target);
  // `-x` as another spelling of `--name` (the name must be added first). Short flags take their
  // value as the next argument or attached (`-n5`, `-n 5`).
  void add_short(char letter, std::string name);
  // Accepts between `min` and `max` positional arguments into `target`, in order; `usage` names
  // them in --help ("<type> <value>"). Without this, any positional argument is a UsageError.
  // A lone `--` ends the flags; an argument such as `-5` or `-0.5` counts as positional.
  void set_positional(std::string usage, std::vector<std::string>* target, std::size_t min,
                      std::size_t max);

  enum class Outcome { run, help_shown, version_shown };
  // Parses argv[1..]; unknown flags and positional arguments are UsageErrors. `--help` /
  // `--version` print to `out` and return help_shown / version_shown. Environment values are parsed
  // first, so a flag given on the command line overrides a bad environment value only if the flag
  // is valid.
  Outcome parse(int argc, const char* const* argv, const Environment& env, std::string version,
                std::string& out);

  std::string help_text() const;

  // Variables in `env` that carry this set's prefix but name no flag, sorted: most likely a typo
  // ("..._BULK_MAX_DOC"), which would otherwise be ignored without a word. Not an error, because
  // the prefix is not ours alone: Kubernetes injects <SERVICE>_PORT and <SERVICE>_SERVICE_HOST
  // for a Service whose name happens to start the same way.
  std::vector<std::string> unknown_environment(const Environment& env) const;

 private:
  struct Flag {
    std::string name, value_name, help, default_text;
    std::function<void(std::string_view)> parse;
    bool is_bool = false;
  };
  const Flag* find_short(char letter) const;

  std::string program_, summary_, env_prefix_;
  std::vector<Flag> flags_;
  std::vector<std::pair<char, std::string>> short_names_;
  std::string positional_usage_;
  std::vector<std::string>* positional_ = nullptr;
  std::size_t positional_min_ = 0, positional_max_ = 0;
};

// Value parsers shared by programs; each throws UsageError with a precise message.
std::uint64_t parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max);
bool parse_bool(std::string_view text);

struct HostPort {
  std::string host;  // "0.0.0.0", "::" (written "[::]:5683"), "127.0.0.1", or a host name
  unsigned short port = 0;
  std::string to_string() const;  // brackets IPv6 literals: "[::]:5683"
};
// "HOST:PORT" or "[IPV6]:PORT"; port 0..65535 (0 = pick a free port).
HostPort parse_host_port(std::string_view text);

}  // namespace iot::cli
