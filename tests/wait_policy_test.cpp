// poslab's OpenMP threads wait passively unless the user chose otherwise
// (src/startup/omp_wait_policy.cpp). The setting only works if it reaches libgomp before
// libgomp's constructor reads the environment, which depends on the link order; libgomp's
// OMP_DISPLAY_ENV=verbose prints what it read, so the binary itself is asked.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "cli_util.h"

namespace poslab {
namespace {

// Sets (or, for nullopt, unsets) environment variables for the lifetime of the object,
// restoring what was there before: the child poslab inherits this process's environment.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::optional<std::string>>& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// The OpenMP settings libgomp read when poslab started.
std::string displayed_env(const std::optional<std::string>& policy, const std::optional<std::string>& spincount) {
  const ScopedEnv env({{"OMP_DISPLAY_ENV", "verbose"}, {"OMP_WAIT_POLICY", policy}, {"GOMP_SPINCOUNT", spincount}});
  const auto r = testing::run_poslab("--version");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out + r.err;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliWaitPolicy, PassiveByDefaultTheUsersChoiceOtherwise) {
  const std::string by_default = displayed_env(std::nullopt, std::nullopt);
  if (!has(by_default, "GOMP_SPINCOUNT")) GTEST_SKIP() << "not libgomp (no GOMP_SPINCOUNT in OMP_DISPLAY_ENV)";
  // Passive: libgomp sleeps at once instead of spinning 300000 times.
  EXPECT_TRUE(has(by_default, "GOMP_SPINCOUNT = '0'")) << by_default;

  const std::string active = displayed_env("active", std::nullopt);
  EXPECT_TRUE(has(active, "OMP_WAIT_POLICY = 'ACTIVE'")) << active;
  EXPECT_FALSE(has(active, "GOMP_SPINCOUNT = '0'")) << active;

  const std::string spin = displayed_env(std::nullopt, "12345");
  EXPECT_TRUE(has(spin, "GOMP_SPINCOUNT = '12345'")) << spin;
}

}  // namespace
}  // namespace poslab
