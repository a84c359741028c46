#include "cli/flag_set.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace iot::cli {
namespace {

using ::testing::HasSubstr;

// A small program with one flag of each kind, as the collector and iotc declare them.
struct Program {
  HostPort listen{"0.0.0.0", 5683};
  std::uint64_t count = 3;
  std::string name = "default";
  bool verbose = false;
  bool color = true;
  std::vector<std::string> name_calls;  // every value the name parser saw, in order
  FlagSet flags{"prog", "Does things.", "PROG_"};

  Program() {
    flags.add("listen", "HOST:PORT", "Where to listen.", listen.to_string(),
              [this](std::string_view v) { listen = parse_host_port(v); });
    flags.add("max-count", "N", "How many.", "3",
              [this](std::string_view v) { count = parse_unsigned(v, 1, 10); });
    flags.add("name", "NAME", "Any text.", "default", [this](std::string_view v) {
      name_calls.emplace_back(v);
      name = std::string(v);
    });
    flags.add_bool("verbose", "Say more.", &verbose);
    flags.add_bool("color", "Colour output.", &color);
  }

  FlagSet::Outcome parse(std::initializer_list<const char*> args, const Environment& env = {}) {
    std::vector<const char*> argv{"prog"};
    argv.insert(argv.end(), args.begin(), args.end());
    return flags.parse(static_cast<int>(argv.size()), argv.data(), env, "1.2.3", out);
  }

  std::string error(std::initializer_list<const char*> args, const Environment& env = {}) {
    try {
      parse(args, env);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "<no error>";
  }

  std::string out;
};

TEST(FlagSet, NothingGivenKeepsDefaults) {
  Program p;
  EXPECT_EQ(p.parse({}), FlagSet::Outcome::run);
  EXPECT_EQ(p.listen.to_string(), "0.0.0.0:5683");
  EXPECT_EQ(p.count, 3U);
  EXPECT_EQ(p.name, "default");
  EXPECT_FALSE(p.verbose);
  EXPECT_TRUE(p.color);
  EXPECT_TRUE(p.name_calls.empty());
  EXPECT_TRUE(p.out.empty());
}

TEST(FlagSet, HandlesZeroArgc) {
  Program p;
  EXPECT_EQ(p.flags.parse(0, nullptr, {}, "1", p.out), FlagSet::Outcome::run);
}

TEST(FlagSet, SeparateValueForm) {
  Program p;
  EXPECT_EQ(p.parse({"--listen", "[::]:1", "--max-count", "7", "--name", "x"}),
            FlagSet::Outcome::run);
  EXPECT_EQ(p.listen.host, "::");
  EXPECT_EQ(p.count, 7U);
  EXPECT_EQ(p.name, "x");
}

TEST(FlagSet, EqualsForm) {
  Program p;
  EXPECT_EQ(p.parse({"--listen=127.0.0.1:9", "--max-count=10", "--name=a=b"}),
            FlagSet::Outcome::run);
  EXPECT_EQ(p.listen.to_string(), "127.0.0.1:9");
  EXPECT_EQ(p.count, 10U);
  EXPECT_EQ(p.name, "a=b");
}

TEST(FlagSet, EqualsFormPassesEmptyValueToParser) {
  Program p;
  p.parse({"--name="});
  EXPECT_EQ(p.name, "");
  EXPECT_EQ(p.error({"--max-count="}), "--max-count: expected an integer in 1..10, got ''");
}

TEST(FlagSet, SeparateValueMayStartWithDash) {
  Program p;
  p.parse({"--name", "-x"});
  EXPECT_EQ(p.name, "-x");
  EXPECT_EQ(p.error({"--max-count", "-1"}), "--max-count: expected an integer in 1..10, got '-1'");
}

TEST(FlagSet, LastOccurrenceWins) {
  Program p;
  p.parse({"--name", "a", "--name=b"});
  EXPECT_EQ(p.name, "b");
}

TEST(FlagSet, BooleanForms) {
  struct Case {
    std::initializer_list<const char*> args;
    bool verbose;
  };
  for (const Case& c :
       {Case{{"--verbose"}, true}, Case{{"--verbose=true"}, true}, Case{{"--verbose=1"}, true},
        Case{{"--verbose=false"}, false}, Case{{"--verbose=0"}, false},
        Case{{"--verbose", "--verbose=false"}, false}}) {
    Program p;
    EXPECT_EQ(p.parse(c.args), FlagSet::Outcome::run);
    EXPECT_EQ(p.verbose, c.verbose) << *c.args.begin();
  }
  Program p;
  p.parse({"--color=false"});
  EXPECT_FALSE(p.color);
}

TEST(FlagSet, BooleanRejectsBadValueAndDoesNotTakeTheNextArgument) {
  Program p;
  EXPECT_EQ(p.error({"--verbose=yes"}), "--verbose: expected true, false, 1 or 0, got 'yes'");
  EXPECT_EQ(p.error({"--verbose="}), "--verbose: expected true, false, 1 or 0, got ''");
  EXPECT_EQ(p.error({"--verbose", "false"}), "unexpected argument 'false' (see --help)");
}

TEST(FlagSet, BooleanFromEnvironment) {
  for (const auto& [value, expected] : std::vector<std::pair<std::string, bool>>{
           {"true", true}, {"1", true}, {"false", false}, {"0", false}}) {
    Program p;
    p.verbose = !expected;
    p.parse({}, {{"PROG_VERBOSE", value}});
    EXPECT_EQ(p.verbose, expected) << value;
  }
  Program p;
  EXPECT_EQ(p.error({}, {{"PROG_VERBOSE", "yes"}}),
            "PROG_VERBOSE: expected true, false, 1 or 0, got 'yes'");
}

TEST(FlagSet, EnvironmentFallback) {
  Program p;
  p.parse({}, {{"PROG_LISTEN", "[::1]:2"}, {"PROG_MAX_COUNT", "9"}, {"PROG_NAME", "env"}});
  EXPECT_EQ(p.listen.to_string(), "[::1]:2");
  EXPECT_EQ(p.count, 9U);
  EXPECT_EQ(p.name, "env");
}

TEST(FlagSet, EnvironmentNamesAreExact) {
  Program p;
  p.parse({}, {{"prog_name", "lower"}, {"PROG_MAX-COUNT", "9"}, {"NAME", "unprefixed"}});
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.count, 3U);
}

TEST(FlagSet, EmptyEnvironmentValueCountsAsUnset) {
  Program p;
  EXPECT_EQ(p.parse({}, {{"PROG_MAX_COUNT", ""}, {"PROG_NAME", ""}}), FlagSet::Outcome::run);
  EXPECT_EQ(p.count, 3U);
  EXPECT_EQ(p.name, "default");
}

TEST(FlagSet, FlagBeatsEnvironment) {
  Program p;
  p.parse({"--name", "flag"}, {{"PROG_NAME", "env"}});
  EXPECT_EQ(p.name, "flag");
  EXPECT_EQ(p.name_calls, std::vector<std::string>{"flag"});
}

TEST(FlagSet, ValidFlagOverridesBadEnvironment) {
  Program p;
  EXPECT_EQ(p.parse({"--max-count=2"}, {{"PROG_MAX_COUNT", "x"}}), FlagSet::Outcome::run);
  EXPECT_EQ(p.count, 2U);
}

TEST(FlagSet, BadFlagIsReportedByFlagName) {
  Program p;
  EXPECT_EQ(p.error({"--max-count", "0"}, {{"PROG_MAX_COUNT", "x"}}),
            "--max-count: expected an integer in 1..10, got '0'");
  EXPECT_EQ(p.error({"--listen=5683"}), "--listen: expected HOST:PORT, got '5683'");
}

TEST(FlagSet, BadEnvironmentIsReportedByVariableName) {
  Program p;
  EXPECT_EQ(p.error({}, {{"PROG_MAX_COUNT", "x"}}),
            "PROG_MAX_COUNT: expected an integer in 1..10, got 'x'");
}

TEST(FlagSet, UnknownFlags) {
  Program p;
  EXPECT_EQ(p.error({"--foo"}), "unknown flag --foo (see --help)");
  EXPECT_EQ(p.error({"--foo=bar"}), "unknown flag --foo (see --help)");
  EXPECT_EQ(p.error({"-n", "x"}), "unknown flag -n (see --help)");
  EXPECT_EQ(p.error({"--Name=x"}), "unknown flag --Name (see --help)");
  EXPECT_EQ(p.error({"--max_count=1"}), "unknown flag --max_count (see --help)");
}

TEST(FlagSet, PositionalArgumentsAreErrors) {
  Program p;
  EXPECT_EQ(p.error({"serve"}), "unexpected argument 'serve' (see --help)");
  EXPECT_EQ(p.error({"--name", "x", "extra"}), "unexpected argument 'extra' (see --help)");
  EXPECT_EQ(p.error({"-"}), "unexpected argument '-' (see --help)");
  EXPECT_EQ(p.error({"--"}), "unexpected argument '--' (see --help)");
  EXPECT_EQ(p.error({""}), "unexpected argument '' (see --help)");
}

TEST(FlagSet, MissingValue) {
  Program p;
  EXPECT_EQ(p.error({"--listen"}), "--listen: missing value (expected HOST:PORT)");
}

TEST(FlagSet, MessagesStayOnOneLine) {
  Program p;
  EXPECT_EQ(p.error({}, {{"PROG_MAX_COUNT", "1\n2"}}),
            "PROG_MAX_COUNT: expected an integer in 1..10, got '1\\n2'");
  EXPECT_EQ(p.error({"--max-count=\x1b[31m"}),
            "--max-count: expected an integer in 1..10, got '\\x1b[31m'");
  EXPECT_EQ(p.error({"--fo\no"}), "unknown flag --fo\\no (see --help)");
}

TEST(FlagSet, ParsesNothingWhenAnErrorIsFound) {
  Program p;
  EXPECT_EQ(p.error({"--name", "x", "--bogus"}), "unknown flag --bogus (see --help)");
  EXPECT_EQ(p.name, "default");
}

TEST(FlagSet, Help) {
  Program p;
  EXPECT_EQ(p.parse({"--help"}), FlagSet::Outcome::help_shown);
  EXPECT_EQ(p.out, p.flags.help_text());
  EXPECT_THAT(p.out, HasSubstr("Usage: prog [flags]"));
  EXPECT_THAT(p.out, HasSubstr("Does things."));
  EXPECT_THAT(p.out, HasSubstr("  --listen HOST:PORT\n      Where to listen.\n"
                               "      default: 0.0.0.0:5683, env: PROG_LISTEN\n"));
  EXPECT_THAT(p.out, HasSubstr("  --max-count N\n"));
  EXPECT_THAT(p.out, HasSubstr("env: PROG_MAX_COUNT"));
  EXPECT_THAT(p.out, HasSubstr("  --verbose[=true|false]\n      Say more.\n"
                               "      default: false, env: PROG_VERBOSE\n"));
  EXPECT_THAT(p.out, HasSubstr("default: true, env: PROG_COLOR"));
  EXPECT_THAT(p.out, HasSubstr("  --help\n"));
  EXPECT_THAT(p.out, HasSubstr("  --version\n"));
  EXPECT_EQ(p.out.back(), '\n');
}

TEST(FlagSet, HelpWinsOverBadValuesAndEnvironment) {
  Program p;
  EXPECT_EQ(p.parse({"--max-count=0", "--help", "--bogus"}, {{"PROG_MAX_COUNT", "x"}}),
            FlagSet::Outcome::help_shown);
  EXPECT_EQ(p.count, 3U);
}

TEST(FlagSet, Version) {
  Program p;
  EXPECT_EQ(p.parse({"--version"}, {{"PROG_MAX_COUNT", "x"}}), FlagSet::Outcome::version_shown);
  EXPECT_EQ(p.out, "prog 1.2.3\n");
}

TEST(FlagSet, BuiltinsTakeNoValue) {
  Program p;
  EXPECT_EQ(p.error({"--help=true"}), "--help takes no value");
  EXPECT_EQ(p.error({"--version=1"}), "--version takes no value");
}

TEST(FlagSet, DeclarationMistakesAreProgrammingErrors) {
  FlagSet flags("p", "", "P_");
  const auto noop = [](std::string_view) {};
  flags.add("dup", "V", "", "", noop);
  EXPECT_THROW(flags.add("dup", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("help", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("version", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("--x", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("Upper", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("a=b", "V", "", "", noop), std::invalid_argument);
  EXPECT_THROW(flags.add("nop", "V", "", "", nullptr), std::invalid_argument);
  EXPECT_THROW(flags.add_bool("b", "", nullptr), std::invalid_argument);
}

TEST(FlagSet, ParserExceptionsOtherThanUsageErrorPropagate) {
  FlagSet flags("p", "", "P_");
  flags.add("x", "V", "", "", [](std::string_view) { throw std::logic_error("bug"); });
  const char* argv[] = {"p", "--x=1"};
  std::string out;
  EXPECT_THROW(flags.parse(2, argv, {}, "1", out), std::logic_error);
}

// Subcommands with arguments (iotc send <type> <value>) and short flags (-n 10).
class PositionalProgram {
 public:
  PositionalProgram() : flags_("iotc send", "", "IOTC_") {
    flags_.add("count", "N", "", "1", [this](std::string_view v) { count = std::string(v); });
    flags_.add_bool("silent", "", &silent);
    flags_.add_short('n', "count");
    flags_.add_short('s', "silent");
    flags_.set_positional("<type> <value>", &args, 2, 2);
  }
  std::string error(std::vector<std::string> argv) {
    try {
      run(std::move(argv));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }
  void run(std::vector<std::string> argv) {
    argv.insert(argv.begin(), "iotc send");
    std::vector<const char*> raw;
    for (const auto& a : argv) raw.push_back(a.c_str());
    std::string out;
    flags_.parse(static_cast<int>(raw.size()), raw.data(), {}, "1", out);
  }
  std::string help() const { return flags_.help_text(); }

  FlagSet flags_;
  std::vector<std::string> args;
  std::string count = "1";
  bool silent = false;
};

TEST(FlagSet, PositionalArgumentsInterleaveWithFlagsAndNegativeNumbersArePositional) {
  PositionalProgram p;
  p.run({"temperature", "--count", "3", "-5.5"});
  EXPECT_EQ(p.args, (std::vector<std::string>{"temperature", "-5.5"}));
  EXPECT_EQ(p.count, "3");
  PositionalProgram q;
  q.run({"-n", "7", "-s", "door", "-1"});
  EXPECT_EQ(q.args, (std::vector<std::string>{"door", "-1"}));
  EXPECT_EQ(q.count, "7");
  EXPECT_TRUE(q.silent);
  PositionalProgram r;
  r.run({"-n9", "--", "--literal", "x"});
  EXPECT_EQ(r.args, (std::vector<std::string>{"--literal", "x"})) << "-- ends the flags";
  EXPECT_EQ(r.count, "9");
}

TEST(FlagSet, PositionalCountsAndShortFlagsAreChecked) {
  PositionalProgram p;
  EXPECT_EQ(p.error({"temperature"}), "missing arguments: expected <type> <value> (see --help)");
  EXPECT_EQ(p.error({"a", "b", "c"}), "unexpected argument 'c' (see --help)");
  EXPECT_EQ(p.error({"a", "b", "-x"}), "unknown flag -x (see --help)");
  EXPECT_EQ(p.error({"a", "b", "-n"}), "-n: missing value (expected N)");
  const std::string help = p.help();
  EXPECT_NE(help.find("Usage: iotc send [flags] <type> <value>"), std::string::npos) << help;
  EXPECT_NE(help.find("  -n, --count N"), std::string::npos) << help;
}

TEST(FlagSet, ShortFlagDeclarationMistakesAreProgrammingErrors) {
  FlagSet flags("p", "", "P_");
  flags.add("count", "N", "", "", [](std::string_view) {});
  EXPECT_THROW(flags.add_short('n', "missing"), std::invalid_argument);
  flags.add_short('n', "count");
  EXPECT_THROW(flags.add_short('n', "count"), std::invalid_argument);
  EXPECT_THROW(flags.add_short('1', "count"), std::invalid_argument);
  std::vector<std::string> args;
  EXPECT_THROW(flags.set_positional("<a>", &args, 2, 1), std::invalid_argument);
}

TEST(FlagSet, UnknownEnvironmentNamesVariablesWithThePrefixThatNameNoFlag) {
  std::string value;
  bool on = false;
  FlagSet flags("prog", "summary", "PROG_");
  flags.add("bulk-max-docs", "N", "help", "1", [&](std::string_view v) { value = v; });
  flags.add_bool("gzip", "help", &on);
  const Environment env{{"PROG_BULK_MAX_DOCS", "5"}, {"PROG_BULK_MAX_DOC", "5"},
                        {"PROG_GZIP", "true"},       {"PROG_PORT", "udp://10.0.0.1:5683"},
                        {"OTHER_THING", "x"},        {"PROG", "no underscore"}};
  EXPECT_EQ(flags.unknown_environment(env),
            (std::vector<std::string>{"PROG_BULK_MAX_DOC", "PROG_PORT"}));
  EXPECT_TRUE(flags.unknown_environment({{"PROG_GZIP", "1"}}).empty());
}

}  // namespace
}  // namespace iot::cli
