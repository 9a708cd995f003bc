// poslab bench range-checks every option before anything is allocated: --heads 0 and
// --vocab 0 were a SIGFPE, --vocab -3 and --d-ff -1 a heap overflow. --step-flops prints
// the one FLOP count the benchmark scripts use.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_util.h"

namespace poslab {
namespace {

TEST(BenchOptions, EveryOptionIsRangeCheckedWithOneLine) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--heads 0", "--heads: expected an integer from 1 to 128, got 0"},
           {"--vocab 0", "--vocab: expected an integer from 1 to 1048576, got 0"},
           {"--vocab -3", "--vocab: expected an integer from 1 to 1048576, got -3"},
           {"--d-ff -1", "--d-ff: expected an integer from 1 to 65536, got -1"},
           {"--heads 3", "--heads: expected a divisor of --d-model (128), got 3"},
           {"--heads 256", "--heads: expected an integer from 1 to 128, got 256"},
           {"--d-model 0", "--d-model: expected an integer from 1 to 16384, got 0"},
           {"--d-model 16385", "--d-model: expected an integer from 1 to 16384, got 16385"},
           {"--layers 0", "--layers: expected an integer from 1 to 1024, got 0"},
           {"--batch 0", "--batch: expected an integer from 1 to 65536, got 0"},
           {"--threads -1", "--threads: expected an integer from 0 to 1024, got -1"},
           {"--threads 1025", "--threads: expected an integer from 0 to 1024, got 1025"},
           {"--contention --encoder all", "--contention: expected one --encoder, not all"},
           {"--batch 65537", "--batch: expected an integer from 1 to 65536, got 65537"},
           {"--seq-len -5", "--seq-len: expected an integer from 1 to 1048576, got -5"},
           {"--seq-len 1048577", "--seq-len: expected an integer from 1 to 1048576, got 1048577"},
           {"--steps 0", "--steps: expected an integer from 1 to 1000000, got 0"},
           {"--warmup -1", "--warmup: expected an integer from 0 to 1000000, got -1"},
           {"--batch 65536 --seq-len 1024", "--batch x --seq-len = 67108864 tokens per step; expected at most 16777216"},
           {"--batch 4096 --seq-len 4096", "GiB (attention probabilities and logits alone); this machine has"},
           {"--encoder nope", "--encoder: unknown encoder 'nope'"},
           {"--vocab 99999999999", "--vocab"},
       }) {
    const auto r = testing::run_poslab("bench " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args << ": nothing runs";
  }
}

TEST(BenchOptions, SmallestShapeRuns) {
  const auto r = testing::run_poslab(
      "bench --encoder none --steps 1 --warmup 0 --batch 1 --seq-len 1 --d-model 1 --layers 1 --heads 1 --d-ff 1 --vocab 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("none"), std::string::npos) << r.out;
}

// --contention runs the step idle, then beside a spinning child, and reports both; the
// numbers are not checked (no timed assertions), only that both ran and a ratio came out.
TEST(BenchOptions, ContentionReportsIdleBusyAndTheirRatio) {
  const auto r = testing::run_poslab("bench --contention --threads 1 --encoder none --steps 1 --warmup 0 --batch 1 "
                                     "--seq-len 2 --d-model 4 --layers 1 --heads 1 --d-ff 4 --vocab 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 threads of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("idle"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("one busy core"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RESULT idle_tokens_per_second="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ratio="), std::string::npos) << r.out;
}

// --step-flops prints the count of model/step_flops.h (the scripts' only source for it):
// the reference step is 22 749 904 896 FLOPs (bench/README.md), and nothing is allocated,
// so a shape too large to run is still counted.
TEST(BenchOptions, StepFlopsPrintsTheOneFormulasCount) {
  const auto r = testing::run_poslab("bench --step-flops");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2.274990e+10\n");
  const auto big = testing::run_poslab("bench --step-flops --batch 4096 --seq-len 4096 --d-model 64 --heads 4 "
                                       "--layers 1 --d-ff 1 --vocab 1");
  ASSERT_EQ(big.exit_code, 0) << big.err;
  // 3·(2·2^24·(1·(4·64² + 2·64) + 64) + 1·4096·4·4096²·64)
  EXPECT_EQ(big.out, "5.444515e+13\n");
  const auto bad = testing::run_poslab("bench --step-flops --heads 3");
  EXPECT_EQ(bad.exit_code, 2) << "shape options are checked as for a timed run";
  EXPECT_EQ(testing::run_poslab("bench --step-flops --eval-length 64").exit_code, 2);
}

}  // namespace
}  // namespace poslab
