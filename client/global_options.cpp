#include "global_options.hpp"

namespace iot::client {
namespace {

// The collector refuses identifiers outside [A-Za-z0-9._:-]{1,128}; saying so before sending
// anything turns a 4.00 from the server into a usage error at once.
std::string identifier(std::string_view text) {
  const bool valid = !text.empty() && text.size() <= 128 &&
                     text.find_first_not_of(
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._:-") == std::string_view::npos;
  if (!valid) {
    throw cli::UsageError("expected 1-128 characters of [A-Za-z0-9._:-], got '" +
                          std::string(text) + "'");
  }
  return std::string(text);
}

}  // namespace

void add_global_flags(cli::FlagSet& flags, GlobalOptions& options) {
  flags.add("host", "HOST", "Collector host name or IP address.", options.host,
            [&](std::string_view v) {
              if (v.empty()) throw cli::UsageError("expected a host name or address");
              options.host = std::string(v);
            });
  flags.add("port", "PORT", "Collector CoAP port (1..65535).", std::to_string(options.port),
            [&](std::string_view v) {
              options.port = static_cast<std::uint16_t>(cli::parse_unsigned(v, 1, 65535));
            });
  flags.add("namespace", "NAME", "Event namespace.", options.namespace_,
            [&](std::string_view v) { options.namespace_ = identifier(v); });
  flags.add("sender", "ID", "Sender id (simulated devices append -<n>).", options.sender,
            [&](std::string_view v) { options.sender = identifier(v); });
  flags.add("origin", "ID", "Origin of the events (the sensor on the device).", options.origin,
            [&](std::string_view v) { options.origin = identifier(v); });
  flags.add_bool("silent", "Print nothing but errors.", &options.silent);
  flags.add_short('s', "silent");
}

}  // namespace iot::client
