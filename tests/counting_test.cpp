// The counting task against the authors' generator (facebookresearch/RAM,
// projects/cope/scripts/count_data_gen.py). Two kinds of checks:
//   - rules, on every generated example, by parsing the tokens back (through token_name)
//     and running the program: no increment or print of a variable never set, no value
//     above the cap 10, the answer is the printed variable's value;
//   - statistics, against an independent simulation of the authors' rules written here
//     (std::mt19937_64, their structure: draw an op by weight, an impossible op raises and
//     is redrawn, a program without a set variable is redrawn with a new step count):
//     distribution of the number of statements (also against its closed form), of the
//     statement kinds and of the answers, with tolerances from the sample sizes.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/config.h"
#include "tasks/task.h"

namespace poslab {
namespace {

std::unique_ptr<Task> build(const std::string& yaml) {
  return TaskRegistry::instance().build(
      PluginSpec{"counting", ConfigNode(YAML::Load(yaml), "task", std::make_shared<KeyOrigins>(),
                                        "test.yaml")});
}

// Histograms of one sample of programs.
struct Stats {
  int programs = 0;
  std::vector<double> length_bins;     // [kLengthBins] number of statements, bins of 32 over 3..514
  std::vector<double> answers;         // [11] printed value 0..10
  std::map<std::string, double> kinds; // "pass", "set", "inc": statements of each kind
  Stats() : length_bins(16, 0.0), answers(11, 0.0) {}
  void add(int n, int answer, int passes, int sets, int incs) {
    ++programs;
    length_bins[std::min(15, (n - 3) / 32)] += 1;
    answers[answer] += 1;
    kinds["pass"] += passes;
    kinds["set"] += sets;
    kinds["inc"] += incs;
  }
};

// Parses one example (row b) back, checks every rule, and adds it to `stats`.
void check_and_count(const Task& task, const Batch& batch, int b, int variables, Stats& stats) {
  const int T = batch.seq_len;
  std::vector<std::string> words;
  int answer_pos = -1;
  for (int t = 0; t < T; ++t) {
    const std::size_t i = std::size_t(b) * T + t;
    if (batch.inputs[i] == 0) break;
    words.push_back(task.token_name(batch.inputs[i]));
    if (batch.loss_mask[i]) {
      ASSERT_EQ(answer_pos, -1) << "one scored position per program";
      answer_pos = t;
    }
  }
  ASSERT_EQ(answer_pos, int(words.size()) - 1) << "the answer is predicted at the last input";
  const int answer = std::stoi(task.token_name(batch.targets[std::size_t(b) * T + answer_pos]));

  std::map<std::string, int> value;  // absent = never set
  const auto is_variable = [&](const std::string& w) {
    return w.size() == 1 && w[0] >= 'a' && w[0] < 'a' + variables;
  };
  int passes = 0, sets = 0, incs = 0;
  std::size_t t = 0;
  while (words.at(t) != "print") {
    if (words[t] == "pass;") {
      ++passes;
      t += 1;
    } else if (words.at(t + 1) == "++;") {
      ASSERT_TRUE(is_variable(words[t])) << words[t];
      ASSERT_TRUE(value.count(words[t])) << "increment of " << words[t] << " before it was set";
      ASSERT_LT(value[words[t]], 10) << "increment past the cap";
      ++value[words[t]];
      ++incs;
      t += 2;
    } else {
      ASSERT_TRUE(is_variable(words[t])) << words[t];
      ASSERT_EQ(words.at(t + 1), "=");
      ASSERT_EQ(words.at(t + 2), "0");
      ASSERT_EQ(words.at(t + 3), ";");
      value[words[t]] = 0;
      ++sets;
      t += 4;
    }
  }
  ASSERT_EQ(t + 2, words.size()) << "`print x` ends the input";
  const std::string asked = words[t + 1];
  ASSERT_TRUE(value.count(asked)) << "print of " << asked << " which was never set";
  ASSERT_EQ(answer, value[asked]);
  stats.add(passes + sets + incs, answer, passes, sets, incs);
}

Stats generate(const std::string& yaml, int variables, int programs, std::uint64_t seed) {
  auto task = build(yaml);
  Rng rng(seed);
  Stats stats;
  for (int done = 0; done < programs; done += 500) {  // batches of 500: T is up to 2050
    const Batch batch = task->make_batch(rng, Split::Train, 500, task->min_train_length(),
                                         task->max_train_length());
    for (int b = 0; b < 500; ++b) {
      check_and_count(*task, batch, b, variables, stats);
      if (::testing::Test::HasFatalFailure()) return stats;
    }
  }
  return stats;
}

// The authors' rules, restated independently of src/tasks/counting.cpp. `saturate`
// replaces the rejection at the cap by saturation (the old poslab rule), to show that the
// comparison below notices one changed rule.
Stats simulate(int variables, int min_n, int max_n, int programs, std::uint64_t seed,
               bool saturate = false) {
  std::mt19937_64 gen(seed);
  std::discrete_distribution<int> op({1.0, 50.0, 7.0});  // 0 set, 1 pass, 2 increment
  const auto pick = [&](int k) { return std::uniform_int_distribution<int>(0, k - 1)(gen); };
  Stats stats;
  while (stats.programs < programs) {
    const int n = std::uniform_int_distribution<int>(min_n, max_n)(gen);
    std::map<int, int> vals;  // like the authors' dict: only variables already set
    int passes = 0, sets = 0, incs = 0;
    for (int s = 0; s < n; ++s) {
      bool written = false;
      while (!written) {
        const int o = op(gen);
        if (o == 0) {
          vals[pick(variables)] = 0;
          ++sets;
          written = true;
        } else if (o == 1) {
          ++passes;
          written = true;
        } else if (!vals.empty()) {
          auto it = std::next(vals.begin(), pick(int(vals.size())));
          if (it->second < 10 || saturate) {
            it->second = std::min(10, it->second + 1);
            ++incs;
            written = true;
          }
        }
      }
    }
    if (vals.empty()) continue;  // no variable to print: a new program, a new n
    const int answer = std::next(vals.begin(), pick(int(vals.size())))->second;
    stats.add(n, answer, passes, sets, incs);
  }
  return stats;
}

// Largest deviation of a proportion between two samples, in standard errors of the
// difference: |p1 − p2| / sqrt(p(1 − p)(1/N1 + 1/N2)), p pooled. Proportions of
// statements use the number of PROGRAMS as N (statements of one program are not
// independent; fewer units make the bound conservative).
double max_z(const std::vector<double>& a, double na, const std::vector<double>& b, double nb,
             double units_a, double units_b) {
  double worst = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const double pa = a[k] / na, pb = b[k] / nb, p = (a[k] + b[k]) / (na + nb);
    if (p <= 0.0 || p >= 1.0) continue;
    worst = std::max(worst, std::abs(pa - pb) / std::sqrt(p * (1 - p) * (1 / units_a + 1 / units_b)));
  }
  return worst;
}

std::vector<double> kind_counts(const Stats& s) {
  return {s.kinds.at("pass"), s.kinds.at("set"), s.kinds.at("inc")};
}
double statements(const Stats& s) { return s.kinds.at("pass") + s.kinds.at("set") + s.kinds.at("inc"); }

struct Comparison {
  double lengths, answers, kinds;
};
Comparison compare(const Stats& a, const Stats& b) {
  return {max_z(a.length_bins, a.programs, b.length_bins, b.programs, a.programs, b.programs),
          max_z(a.answers, a.programs, b.answers, b.programs, a.programs, b.programs),
          max_z(kind_counts(a), statements(a), kind_counts(b), statements(b), a.programs, b.programs)};
}

// 5 standard errors: with ~30 proportions compared per configuration, a correct generator
// exceeds it with probability < 1e-5.
constexpr double kZ = 5.0;

TEST(CountingAuthors, ThreeVariablesMatchTheAuthorsRules) {
  // The authors' setting: 3 variables, 3..512 statements.
  const Stats ours = generate("{variables: 3, min_length: 3, length: 512}", 3, 6000, 11);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Stats sim = simulate(3, 3, 512, 60000, 12);
  const Comparison c = compare(ours, sim);
  EXPECT_LT(c.lengths, kZ);
  EXPECT_LT(c.answers, kZ);
  EXPECT_LT(c.kinds, kZ);
}

TEST(CountingAuthors, OneVariableHitsTheCapAndRejectsPastIt) {
  // One variable and long programs: the cap is reached often, so rejection (redraw) and
  // saturation differ; the simulation with saturation must be told apart.
  const Stats ours = generate("{variables: 1, min_length: 3, length: 512}", 1, 20000, 21);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  EXPECT_GT(ours.answers[10], 0.1 * ours.programs);  // the cap is common
  const Stats sim = simulate(1, 3, 512, 100000, 22);
  const Comparison c = compare(ours, sim);
  EXPECT_LT(c.lengths, kZ);
  EXPECT_LT(c.answers, kZ);
  EXPECT_LT(c.kinds, kZ);
  const Comparison saturated = compare(ours, simulate(1, 3, 512, 100000, 23, /*saturate=*/true));
  EXPECT_GT(saturated.kinds, kZ) << "the statistics must notice saturation instead of rejection";
}

TEST(CountingAuthors, StatementCountsFollowTheRejectionOfProgramsWithoutAVariable) {
  // Closed form: before the first reset an increment is impossible and redrawn, so each
  // statement is a reset with probability 1/51; a program of n statements survives with
  // probability 1 − (50/51)^n, and n is uniform before the rejection:
  //   P(n) = (1 − (50/51)^n) / Σ_m (1 − (50/51)^m),  m = min..max.
  const int lo = 1, hi = 40, programs = 20000;
  auto task = build("{variables: 2, min_length: 1, length: 40}");
  Rng rng(31);
  std::vector<double> count(hi + 1, 0.0);
  const Batch batch = task->make_batch(rng, Split::Train, programs, lo, hi);
  for (int b = 0; b < programs; ++b) {
    int n = 0;  // statements = the tokens `pass;`, `++;` and `=` before `print`
    for (int t = 0; t < batch.seq_len; ++t) {
      const std::string w = task->token_name(batch.inputs[std::size_t(b) * batch.seq_len + t]);
      if (w == "print") break;
      n += w == "pass;" || w == "++;" || w == "=";
    }
    ASSERT_GE(n, lo);
    count[n] += 1;
  }
  double norm = 0.0;
  for (int m = lo; m <= hi; ++m) norm += 1 - std::pow(50.0 / 51, m);
  for (int m = lo; m <= hi; ++m) {
    const double p = (1 - std::pow(50.0 / 51, m)) / norm;
    EXPECT_NEAR(count[m] / programs, p, kZ * std::sqrt(p * (1 - p) / programs)) << "n = " << m;
  }
  // Uniform n (no rejection) would put 1/40 = 0.025 on n = 1; the closed form gives 0.0028.
  EXPECT_LT(count[1] / programs, 0.01);
}

TEST(CountingAuthors, TokensAreTheAuthorsWords) {
  auto task = build("{variables: 2}");
  EXPECT_EQ(task->token_name(13), "++;");
  EXPECT_EQ(task->token_name(14), "pass;");
  EXPECT_EQ(task->token_name(11), "10");  // the answer 10 is one token
  EXPECT_EQ(task->vocab_size(), 19);
  // A program of n statements takes at most 4n tokens, plus `print x answer`, minus the shift.
  EXPECT_EQ(task->sequence_length(5), 22);
  auto v1 = build("{variables: 2, variant: poslab_v1}");
  EXPECT_EQ(v1->token_name(14), "pass");
  EXPECT_EQ(v1->sequence_length(5), 30);  // + the initialisation `a = 0 ; b = 0 ;`
}

TEST(CountingAuthors, BlockSizeKeepsTheLastTokens) {
  // Same seed, same programs: truncation only cuts each program's beginning.
  auto full = build("{variables: 3, length: 64}");
  auto cut = build("{variables: 3, length: 64, block_size: 40}");
  EXPECT_EQ(cut->sequence_length(64), 39);
  Rng a(41), b(41);
  const Batch x = full->make_batch(a, Split::Eval, 50, 64, 64);
  const Batch y = cut->make_batch(b, Split::Eval, 50, 64, 64);
  int truncated = 0;
  for (int e = 0; e < 50; ++e) {
    std::vector<int> real_x, real_y;
    for (int t = 0; t < x.seq_len; ++t)
      if (x.inputs[std::size_t(e) * x.seq_len + t] != 0) real_x.push_back(x.inputs[std::size_t(e) * x.seq_len + t]);
    for (int t = 0; t < y.seq_len; ++t)
      if (y.inputs[std::size_t(e) * y.seq_len + t] != 0) real_y.push_back(y.inputs[std::size_t(e) * y.seq_len + t]);
    ASSERT_LE(real_y.size(), 39u);
    ASSERT_EQ(real_y.size(), std::min<std::size_t>(real_x.size(), 39));
    EXPECT_TRUE(std::equal(real_y.begin(), real_y.end(), real_x.end() - real_y.size()));
    // The answer (target at the last real input) is kept.
    EXPECT_EQ(y.targets[std::size_t(e) * y.seq_len + real_y.size() - 1],
              x.targets[std::size_t(e) * x.seq_len + real_x.size() - 1]);
    truncated += real_x.size() > 39;
  }
  EXPECT_GT(truncated, 0);
}

TEST(CountingAuthors, BadOptionsNameTheKey) {
  const auto error = [](const std::string& yaml) -> std::string {
    try {
      build(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error("{block_size: 3}").find("task.block_size"), std::string::npos);
  EXPECT_NE(error("{block_size: 64, variant: poslab_v1}").find("task.block_size"), std::string::npos);
  EXPECT_NE(error("{variant: paper}").find("task.variant"), std::string::npos);
}

}  // namespace
}  // namespace poslab
