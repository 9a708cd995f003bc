#pragma once
// Runs the poslab binary as a user would and captures exit code, stdout and stderr.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace poslab::testing {

struct CliResult {
  int exit_code;
  std::string out, err;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh, empty directory under the test temp dir, unique to this process (CTest runs
// test cases as parallel processes).
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("poslab_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// `env`, if given, are env(1) arguments put before the binary ("-u NAME", "NAME=value").
inline CliResult run_poslab(const std::string& args, const std::string& env = "") {
  const auto dir = fresh_dir("cli_capture");
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string cmd = (env.empty() ? std::string() : "env " + env + " ") + POSLAB_BINARY + " " + args +
                          " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

inline std::string data_path(const std::string& relative) {
  return (std::filesystem::path(POSLAB_SOURCE_DIR) / "tests" / "data" / relative).string();
}

}  // namespace poslab::testing
