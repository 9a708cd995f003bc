// Seeds of one configuration are found from the stored configuration (io/seed_group.h),
// not from run names: the key ignores the top-level seed, key order and the spelling of
// numbers, and nothing else.
#include <gtest/gtest.h>

#include <string>

#include "io/config.h"
#include "io/seed_group.h"

namespace poslab {
namespace {

std::string key(const std::string& yaml, const std::string& experiment = "e") {
  return seed_group_key(experiment, yaml, "r.h5");
}

TEST(SeedGroupKey, IgnoresOnlyTheTopLevelSeed) {
  const std::string a = "name: e\nseed: 1\ntrain: {lr: 0.001, steps: 10}\n";
  EXPECT_EQ(key(a), key("name: e\nseed: 2\ntrain: {lr: 0.001, steps: 10}\n"));
  EXPECT_EQ(key(a), key("name: e\ntrain: {lr: 0.001, steps: 10}\n")) << "no seed at all";
  EXPECT_NE(key(a), key("name: e\nseed: 1\ntrain: {lr: 0.002, steps: 10}\n")) << "lr differs";
  EXPECT_NE(key(a), key(a, "other")) << "another experiment";
  // A nested `seed` (e.g. a task option) is configuration, not the run's seed.
  EXPECT_NE(key("seed: 1\ntask: {seed: 5}\n"), key("seed: 1\ntask: {seed: 6}\n"));
  EXPECT_NE(key("seed: 1\ntask: {seed: 5}\n"), key("seed: 1\ntask: {}\n"));
}

TEST(SeedGroupKey, IgnoresKeyOrderStyleAndNumberSpelling) {
  const std::string block = "seed: 3\ntrain:\n  lr: 0.003\n  steps: 10\neval: {lengths: [4, 8]}\n";
  EXPECT_EQ(key(block), key("eval:\n  lengths:\n    - 4\n    - 8\ntrain: {steps: 10, lr: 3.0e-3}\nseed: 9\n"));
  EXPECT_NE(key(block), key("seed: 3\ntrain: {lr: 0.003, steps: 10}\neval: {lengths: [8, 4]}\n"))
      << "a list's order is configuration";
  EXPECT_NE(key("a: text"), key("a: texts"));
}

TEST(SeedGroupKey, RefusesAConfigurationThatIsNotAMapping) {
  try {
    key("seed: [1\n");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("r.h5: /config: not YAML (", 0), 0u) << e.what();
  }
  EXPECT_THROW(key("- 1\n- 2\n"), ConfigError);
}

TEST(SeedLabel, DropsOnlyTheSweepsLabelOfThisSeed) {
  EXPECT_EQ(without_seed_label("sweep__name-none__seed-2", 2), "sweep__name-none");
  EXPECT_EQ(without_seed_label("run__seed-2__lr-0.1", 2), "run__lr-0.1");
  EXPECT_EQ(without_seed_label("run__seed-2", 3), "run__seed-2") << "another seed's label stays";
  EXPECT_EQ(without_seed_label("run__seed-21", 2), "run__seed-21") << "only a whole part";
  EXPECT_EQ(without_seed_label("alpha", 1), "alpha");
}

TEST(SeedLabel, ARowNamesEachDistinctNameOnce) {
  EXPECT_EQ(seed_group_label({"learned", "learned"}), "learned");
  EXPECT_EQ(seed_group_label({"alpha", "beta", "alpha"}), "alpha | beta");
  EXPECT_EQ(seed_group_label({"a", "b", "c", "d", "e"}), "a | b | c +2 more");
}

}  // namespace
}  // namespace poslab
