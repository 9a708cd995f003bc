// `poslab bench --eval-length`: one table row per encoder and length with tokens/s and the
// peak RSS of its own process; bad lengths are a usage error (exit 2, one line).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cli_util.h"
#include "encoders/encoder.h"

namespace poslab {
namespace {

using testing::run_poslab;

// The cells of the row that starts with "encoder length", or empty.
std::vector<std::string> row_of(const std::string& out, const std::string& encoder, int T) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    std::vector<std::string> row;
    for (std::string c; cells >> c;) row.push_back(c);
    if (row.size() >= 2 && row[0] == encoder && row[1] == std::to_string(T)) return row;
  }
  return {};
}

TEST(BenchEval, EveryEncoderAtEveryLength) {
  const auto r = run_poslab("bench --eval-length 37,130 --encoder all --d-model 16 --heads 2 "
                            "--layers 1 --d-ff 32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("B=1 d_model=16 layers=1 heads=2 d_ff=32"), std::string::npos) << r.out;
  for (const auto& name : EncoderRegistry::instance().names())
    for (int T : {37, 130}) {
      const auto row = row_of(r.out, name, T);
      ASSERT_EQ(row.size(), 5u) << name << " at " << T << " in\n" << r.out;
      EXPECT_GT(std::stod(row[2]), 0) << "tokens/s";
      // A process of this binary holds a few MiB at least and, at these sizes, < 1 GiB.
      EXPECT_GT(std::stod(row[4]), 1.0) << "peak RSS MiB";
      EXPECT_LT(std::stod(row[4]), 1024.0) << "peak RSS MiB";
    }
}

// Separate processes: the materialized forward's [B, H, T, T] blocks (2 × 4 × 1500² floats
// per layer with its gradients: > 70 MiB here) show in its own peak, not in the streaming one.
TEST(BenchEval, MaterializedColumnsMeasuredInTheirOwnProcess) {
  const auto r = run_poslab("bench --eval-length 1500 --encoder none --materialized");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto row = row_of(r.out, "none", 1500);
  ASSERT_EQ(row.size(), 7u) << r.out;
  const double streaming_rss = std::stod(row[4]), materialized_rss = std::stod(row[6]);
  EXPECT_GT(materialized_rss, streaming_rss + 50) << r.out;
}

TEST(BenchEval, BadLengthsAreAUsageError) {
  for (const char* bad : {"12,abc", "0", "64,", "-5"}) {
    const auto r = run_poslab(std::string("bench --eval-length=") + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--eval-length"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto r = run_poslab("bench --eval-length 64 --encoder nosuch");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.find("tokens/s") == std::string::npos) << "nothing measured: " << r.out;
}

}  // namespace
}  // namespace poslab
