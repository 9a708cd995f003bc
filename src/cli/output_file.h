#pragma once
// Checks an --out file before any work is done, so that a command never silently replaces
// a file: not its own input (even with --force), not an existing file unless --force, and
// only in a directory that exists. Violations are usage errors (ConfigError, exit 2).
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "core/config_node.h"  // ConfigError

namespace poslab::cli {

inline void check_output_file(const std::string& command, const std::string& out, bool force,
                              const std::vector<std::string>& inputs = {}) {
  namespace fs = std::filesystem;
  const std::string where = "poslab " + command + ": --out: " + out + ": ";
  std::error_code error;
  const fs::path parent = fs::path(out).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, error))
    throw ConfigError(where + "no such directory: expected a path in an existing directory");
  if (!fs::exists(out, error)) return;
  // equivalent() compares device and inode, so a symlink or hard link to the input or a
  // different spelling of its path is caught too.
  for (const auto& input : inputs)
    if (fs::equivalent(out, input, error))
      throw ConfigError(where + "is the input file " + input +
                        "; expected a different output file (writing it would replace the input)");
  if (fs::is_directory(out, error))
    throw ConfigError(where + "is a directory: expected a file name");
  if (!force)
    throw ConfigError(where + "exists: pass --force to overwrite it, or choose another --out");
}

}  // namespace poslab::cli
