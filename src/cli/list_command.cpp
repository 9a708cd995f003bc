// poslab list [encoders|tasks]: every registered plugin with its options and defaults,
// generated from the same declarations the configuration parser validates against.
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "encoders/encoder.h"
#include "probes/probe.h"
#include "tasks/task.h"

namespace poslab::cli {

namespace {
template <class RegistryT>
void print_registry(const std::string& title) {
  std::cout << title << ":\n";
  for (const auto& [name, entry] : RegistryT::instance().entries()) {
    std::cout << "  " << name << " — " << entry.summary << "\n";
    // options indented under their plugin
    std::istringstream lines(describe_options(entry.options));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) std::cout << "      " << line.substr(line.find_first_not_of(' ')) << "\n";
  }
}
}  // namespace

int list_command(const std::vector<std::string>& args) {
  po::options_description options("poslab list options");
  std::string what = "all";
  options.add_options()("what", po::value(&what), "encoders | tasks | probes (default: all)");
  po::positional_options_description positional;
  positional.add("what", 1);
  po::variables_map vm;
  if (!parse_args("list", "poslab list [encoders|tasks|probes]", args, options, positional, vm))
    return 0;
  if (what != "all" && what != "encoders" && what != "tasks" && what != "probes")
    throw ConfigError("poslab list: '" + what + "': expected encoders, tasks or probes");
  if (what == "all" || what == "encoders") print_registry<EncoderRegistry>("encoders");
  if (what == "all") std::cout << "\n";
  if (what == "all" || what == "tasks") print_registry<TaskRegistry>("tasks");
  if (what == "all") std::cout << "\n";
  if (what == "all" || what == "probes") print_registry<ProbeRegistry>("probes");
  return 0;
}

}  // namespace poslab::cli
