#include "cli/flag_set.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <utility>

namespace iot::cli {
namespace {

std::string env_name_for(std::string_view prefix, std::string_view flag) {
  std::string name(prefix);
  for (char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// Usage errors are promised to be one line, but they echo user input: an environment value can
// carry a newline (e.g. from a YAML block scalar) that would otherwise split the message.
std::string one_line(std::string_view text) {
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      result += "\\n";
    } else if (c == '\r') {
      result += "\\r";
    } else if (c == '\t') {
      result += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      result += buf;
    } else {
      result += c;
    }
  }
  return result;
}

bool is_valid_flag_name(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Environment environment_from(char** envp) {
  Environment env;
  if (envp == nullptr) return env;
  for (char** entry = envp; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    // emplace keeps the first of duplicate names, which is the one getenv() would return.
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

FlagSet::FlagSet(std::string program, std::string summary, std::string env_prefix)
    : program_(std::move(program)),
      summary_(std::move(summary)),
      env_prefix_(std::move(env_prefix)) {}

void FlagSet::add(std::string name, std::string value_name, std::string help,
                  std::string default_text, std::function<void(std::string_view)> parse) {
  // Programming errors, not usage errors: they must never reach a user as exit status 2.
  if (!is_valid_flag_name(name))
    throw std::invalid_argument("FlagSet: bad flag name '" + name + "'");
  if (name == "help" || name == "version") {
    throw std::invalid_argument("FlagSet: --" + name + " is built in");
  }
  if (std::any_of(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; })) {
    throw std::invalid_argument("FlagSet: --" + name + " added twice");
  }
  if (!parse) throw std::invalid_argument("FlagSet: --" + name + " has no parser");
  flags_.push_back(Flag{std::move(name), std::move(value_name), std::move(help),
                        std::move(default_text), std::move(parse), false});
}

void FlagSet::add_bool(std::string name, std::string help, bool* target) {
  if (target == nullptr) throw std::invalid_argument("FlagSet: --" + name + " has no target");
  std::string default_text = *target ? "true" : "false";
  add(std::move(name), "", std::move(help), std::move(default_text),
      [target](std::string_view text) { *target = parse_bool(text); });
  flags_.back().is_bool = true;
}

void FlagSet::add_short(char letter, std::string name) {
  if (!std::isalpha(static_cast<unsigned char>(letter)) || find_short(letter) != nullptr) {
    throw std::invalid_argument(std::string("FlagSet: bad or repeated short flag -") + letter);
  }
  if (std::none_of(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; })) {
    throw std::invalid_argument("FlagSet: -" + std::string(1, letter) + " names unknown --" + name);
  }
  short_names_.emplace_back(letter, std::move(name));
}

void FlagSet::set_positional(std::string usage, std::vector<std::string>* target, std::size_t min,
                             std::size_t max) {
  if (target == nullptr || min > max) throw std::invalid_argument("FlagSet: bad positional spec");
  positional_usage_ = std::move(usage);
  positional_ = target;
  positional_min_ = min;
  positional_max_ = max;
}

const FlagSet::Flag* FlagSet::find_short(char letter) const {
  for (const auto& [short_letter, name] : short_names_) {
    if (short_letter != letter) continue;
    for (const Flag& flag : flags_) {
      if (flag.name == name) return &flag;
    }
  }
  return nullptr;
}

FlagSet::Outcome FlagSet::parse(int argc, const char* const* argv, const Environment& env,
                                std::string version, std::string& out) {
  struct Given {
    const Flag* flag;
    std::string value;
  };
  std::vector<Given> given;
  std::vector<std::string> positional;
  bool flags_ended = false;
  const auto take_positional = [&](std::string_view arg) {
    if (positional_ == nullptr || positional.size() == positional_max_) {
      throw UsageError("unexpected argument '" + one_line(arg) + "' (see --help)");
    }
    positional.emplace_back(arg);
  };

  // Tokenise everything before converting any value, so that --help and --version work even when
  // other flags or the environment hold bad values.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i] != nullptr ? argv[i] : "";
    if (flags_ended) {
      take_positional(arg);
      continue;
    }
    if (arg == "--" && positional_ != nullptr) {
      flags_ended = true;
      continue;
    }
    const bool negative_number =
        arg.size() >= 2 && arg[0] == '-' &&
        (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
    if (arg.size() < 2 || arg.front() != '-' || arg == "--" || negative_number) {
      take_positional(arg);
      continue;
    }
    if (!arg.starts_with("--")) {
      const Flag* flag = find_short(arg[1]);
      if (flag == nullptr) throw UsageError("unknown flag " + one_line(arg) + " (see --help)");
      if (arg.size() > 2) {
        given.push_back({flag, std::string(arg.substr(2))});
      } else if (flag->is_bool) {
        given.push_back({flag, "true"});
      } else if (i + 1 < argc && argv[i + 1] != nullptr) {
        given.push_back({flag, argv[++i]});
      } else {
        throw UsageError("-" + std::string(1, arg[1]) + ": missing value (expected " +
                         flag->value_name + ")");
      }
      continue;
    }
    const std::string_view body = arg.substr(2);
    const auto eq = body.find('=');
    const std::string_view name = body.substr(0, eq);
    std::optional<std::string_view> inline_value;
    if (eq != std::string_view::npos) inline_value = body.substr(eq + 1);

    if (name == "help" || name == "version") {
      if (inline_value) throw UsageError("--" + std::string(name) + " takes no value");
      if (name == "help") {
        out = help_text();
        return Outcome::help_shown;
      }
      out = program_ + " " + version + "\n";
      return Outcome::version_shown;
    }

    const auto it =
        std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; });
    if (it == flags_.end()) {
      throw UsageError("unknown flag --" + one_line(name) + " (see --help)");
    }
    if (inline_value) {
      given.push_back({&*it, std::string(*inline_value)});
    } else if (it->is_bool) {
      given.push_back({&*it, "true"});
    } else if (i + 1 < argc && argv[i + 1] != nullptr) {
      given.push_back({&*it, argv[++i]});
    } else {
      throw UsageError("--" + it->name + ": missing value (expected " + it->value_name + ")");
    }
  }

  if (positional_ != nullptr) {
    if (positional.size() < positional_min_) {
      throw UsageError("missing arguments: expected " + positional_usage_ + " (see --help)");
    }
    *positional_ = std::move(positional);
  }

  // The environment only fills flags the command line leaves out, so a valid flag rescues a
  // bad inherited variable instead of failing on it.
  for (const Flag& flag : flags_) {
    const bool on_command_line =
        std::any_of(given.begin(), given.end(), [&](const Given& g) { return g.flag == &flag; });
    if (on_command_line) continue;
    const std::string var = env_name_for(env_prefix_, flag.name);
    const auto found = env.find(var);
    // Empty counts as unset: charts and compose files render optional settings as "".
    if (found == env.end() || found->second.empty()) continue;
    try {
      flag.parse(found->second);
    } catch (const UsageError& e) {
      throw UsageError(var + ": " + one_line(e.what()));
    }
  }

  for (const Given& g : given) {
    try {
      g.flag->parse(g.value);
    } catch (const UsageError& e) {
      throw UsageError("--" + g.flag->name + ": " + one_line(e.what()));
    }
  }
  return Outcome::run;
}

std::vector<std::string> FlagSet::unknown_environment(const Environment& env) const {
  std::vector<std::string> unknown;
  if (env_prefix_.empty()) return unknown;
  for (const auto& entry : env) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in the lambda.
    const auto& name = entry.first;
    if (!name.starts_with(env_prefix_)) continue;
    const bool known = std::any_of(flags_.begin(), flags_.end(), [&](const Flag& flag) {
      return env_name_for(env_prefix_, flag.name) == name;
    });
    if (!known) unknown.push_back(name);
  }
  return unknown;  // std::map iterates in order
}

std::string FlagSet::help_text() const {
  std::string text = "Usage: " + program_ + " [flags]";
  if (!positional_usage_.empty()) text += " " + positional_usage_;
  text += "\n";
  if (!summary_.empty()) text += "\n" + summary_ + "\n";
  text +=
      "\nEvery flag can also be set with the environment variable shown; flags take precedence.\n";
  text += "\nFlags:\n";
  for (const Flag& flag : flags_) {
    text += "  ";
    for (const auto& [letter, name] : short_names_) {
      if (name == flag.name) text += "-" + std::string(1, letter) + ", ";
    }
    text += "--" + flag.name;
    if (flag.is_bool) {
      text += "[=true|false]";
    } else if (!flag.value_name.empty()) {
      text += " " + flag.value_name;
    }
    text += "\n";
    if (!flag.help.empty()) text += "      " + flag.help + "\n";
    text += "      ";
    if (!flag.default_text.empty()) text += "default: " + flag.default_text + ", ";
    text += "env: " + env_name_for(env_prefix_, flag.name) + "\n";
  }
  text += "  --help\n      Print this help and exit.\n";
  text += "  --version\n      Print the version and exit.\n";
  return text;
}

}  // namespace iot::cli
