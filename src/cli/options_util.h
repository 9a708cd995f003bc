#pragma once
// Shared Boost.ProgramOptions plumbing for the subcommands: parse, turn Boost's errors into
// ConfigError ("poslab <cmd>: <message>"), and print --help.
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "core/options.h"

namespace poslab::cli {

namespace po = boost::program_options;

// Returns false if --help was printed (the caller then exits 0).
inline bool parse_args(const std::string& command, const std::string& usage,
                       const std::vector<std::string>& args, po::options_description& options,
                       const po::positional_options_description& positional,
                       po::variables_map& vm) {
  options.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError("poslab " + command + ": " + e.what() + " (see poslab " + command +
                      " --help)");
  }
  return true;
}

}  // namespace poslab::cli
