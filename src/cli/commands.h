#pragma once
// One function per subcommand; each parses its own arguments (Boost.ProgramOptions) and
// returns the process exit code: 0 success, 1 runtime failure, 2 usage/configuration error
// (usage and configuration errors are thrown as ConfigError and mapped in main).
#include <string>
#include <vector>

namespace poslab::cli {

int run_command(const std::vector<std::string>& args);
int encode_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int report_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
int probe_command(const std::vector<std::string>& args);

}  // namespace poslab::cli
