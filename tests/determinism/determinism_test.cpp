// A run's numbers depend only on its configuration, the binary and the thread count — not
// on what ran before it in the same process or on where the heap puts its buffers
// (issue 18: Eigen peels to the first aligned element, so buffer addresses used to change
// rounding). Every registered encoder: run X alone, after every other encoder, and with
// every plain heap allocation moved to each 16-byte offset from a 64-byte boundary
// (shifted_new.h); all bit-identical. Its own executable, because of that operator new.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "cli_util.h"
#include "io/h5file.h"
#include "shifted_new.h"
#include "train/run.h"

namespace poslab {
namespace {

RunSpec spec_for(const std::string& encoder,
                 const std::string& experiment = "experiments/determinism.yaml") {
  auto specs = load_experiment(testing::data_path(experiment), {"encoder.name=" + encoder});
  return specs.at(0);
}

RunRecord run_once(const std::string& encoder,
                   const std::string& experiment = "experiments/determinism.yaml") {
  PreparedRun run = prepare_run(spec_for(encoder, experiment));
  return train_and_evaluate(run, nullptr);
}

// Bit-for-bit equality of everything a results file would hold (NaN == NaN).
void expect_identical(const RunRecord& a, const RunRecord& b, const std::string& what) {
  // One failure per array: the first differing element and how many differ.
  const auto same = [&](const std::vector<double>& x, const std::vector<double>& y,
                        const std::string& name) {
    ASSERT_EQ(x.size(), y.size()) << what << ": " << name;
    std::size_t differing = 0, first = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!(x[i] == y[i] || (x[i] != x[i] && y[i] != y[i])) && differing++ == 0) first = i;
    EXPECT_EQ(differing, 0u) << what << ": " << name << "[" << first << "] " << x[first]
                             << " vs " << y[first] << " (difference " << x[first] - y[first]
                             << "), " << differing << " of " << x.size() << " elements differ";
  };
  same(a.loss, b.loss, "train/loss");
  same(a.grad_norm, b.grad_norm, "train/grad_norm");
  same(a.eval.loss, b.eval.loss, "eval/loss");
  same(a.eval.token_accuracy, b.eval.token_accuracy, "eval/token_accuracy");
  ASSERT_EQ(a.model_params.size(), b.model_params.size()) << what;
  ASSERT_FALSE(a.model_params.empty()) << what << ": the fixture must keep the parameters";
  for (std::size_t p = 0; p < a.model_params.size(); ++p)
    same(a.model_params[p].data, b.model_params[p].data, a.model_params[p].name);
  ASSERT_EQ(a.probes.size(), b.probes.size()) << what;
  for (std::size_t p = 0; p < a.probes.size(); ++p) {
    for (const auto& [name, value] : a.probes[p].scalars)
      same({value}, {b.probes[p].scalars.at(name)}, a.probes[p].name + "." + name);
    ASSERT_EQ(a.probes[p].arrays.size(), b.probes[p].arrays.size()) << what;
    for (std::size_t k = 0; k < a.probes[p].arrays.size(); ++k)
      same(a.probes[p].arrays[k].data, b.probes[p].arrays[k].data,
           a.probes[p].name + "/" + a.probes[p].arrays[k].name);
  }
}

class Determinism : public ::testing::TestWithParam<std::string> {};

TEST_P(Determinism, RunAloneEqualsRunAfterEveryOtherEncoder) {
  const std::string x = GetParam();
  const RunRecord alone = run_once(x);
  for (const auto& other : EncoderRegistry::instance().names()) {
    if (other == x) continue;
    run_once(other);  // leaves its allocations' history behind in the heap
    expect_identical(alone, run_once(x), x + " after " + other);
  }
}

TEST_P(Determinism, RunIsIdenticalWhateverTheHeapAddresses) {
  const std::string x = GetParam();
  testing::set_new_shift(0);
  const RunRecord reference = run_once(x);
  for (std::size_t shift : {16, 32, 48, 0}) {
    testing::set_new_shift(shift);
    const RunRecord shifted = run_once(x);
    testing::set_new_shift(0);
    expect_identical(reference, shifted, x + " with every new'd buffer shifted by " +
                                             std::to_string(shift) + " bytes");
  }
}

INSTANTIATE_TEST_SUITE_P(Encoders, Determinism,
                         ::testing::ValuesIn(EncoderRegistry::instance().names()),
                         [](const auto& info) { return info.param; });

// Two threads, sequences of 123..141 tokens: every split of work between the threads is
// fixed by the shapes, so the same run repeats bit for bit, after another run and with
// its buffers elsewhere on the heap, however loaded the machine is. The schemes cover each
// kind of hook (table added to the input, score bias, rotation, gated counts).
TEST(DeterminismThreads, TwoThreadsOnLongSequencesRepeatBitForBit) {
  const std::string experiment = "experiments/determinism_threads.yaml";
  ASSERT_EQ(spec_for("none", experiment).train.threads, 2);
  for (const std::string x : {"learned", "alibi", "rope", "cope"}) {
    const RunRecord first = run_once(x, experiment);
    run_once("none", experiment);
    expect_identical(first, run_once(x, experiment), x + " (2 threads) after another run");
    testing::set_new_shift(48);
    const RunRecord shifted = run_once(x, experiment);
    testing::set_new_shift(0);
    expect_identical(first, shifted, x + " (2 threads) with every new'd buffer shifted by 48 bytes");
  }
}

// The CLI as a user runs it: `--only X` gives the numbers X has inside the full experiment.
TEST(DeterminismCli, OnlyRunEqualsTheSameRunInsideTheFullExperiment) {
  using testing::fresh_dir;
  using testing::run_poslab;
  const auto all = fresh_dir("det_all"), one = fresh_dir("det_one");
  const std::string exp = testing::data_path("experiments/variants.yaml");
  ASSERT_EQ(run_poslab("run " + exp + " --threads 1 --out " + all.string()).exit_code, 0);
  ASSERT_EQ(run_poslab("run " + exp + " --threads 1 --only plain --out " + one.string()).exit_code, 0);
  H5Reader a((all / "plain.h5").string()), b((one / "plain.h5").string()),
      c((all / "with_variants.h5").string());
  for (const std::string ds : {"/train/loss", "/train/grad_norm", "/eval/loss", "/eval/token_accuracy"}) {
    EXPECT_EQ(a.read(ds), b.read(ds)) << ds;
    EXPECT_EQ(a.read(ds), c.read(ds)) << ds << " (with_variants trains identically)";
  }
}

}  // namespace
}  // namespace poslab
