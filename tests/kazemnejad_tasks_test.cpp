// Ground truth for the tasks of Kazemnejad et al. 2023 (addition, summation, parity,
// polynomial_evaluation, lego). Every answer is recomputed here from the decoded prompt
// tokens — never from the generators' internals — and the sampling statistics are checked
// against what the authors' generators draw (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_*_dataset.py): operand and value ranges, bins, query
// positions. The generic checks (shapes, padding, seeding, options) run on them through
// EveryTask (tasks_test.cpp) and learning through TaskLearning (training_test.cpp).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/config.h"
#include "tasks/task.h"

namespace poslab {
namespace {

std::unique_ptr<Task> build(const std::string& name, const std::string& yaml) {
  return TaskRegistry::instance().build(
      PluginSpec{name, ConfigNode(YAML::Load(yaml), "task", std::make_shared<KeyOrigins>(), "test.yaml")});
}

std::string build_error(const std::string& name, const std::string& yaml) {
  try {
    build(name, yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// One example: the prompt (input tokens up to and including the position that predicts the
// first scored token) and the scored targets, both as rendered names.
struct Decoded {
  std::vector<std::string> prompt, answer;
};

Decoded decode(const Task& task, const Batch& batch, int b) {
  Decoded d;
  const std::size_t T = batch.seq_len;
  int first = -1;
  for (std::size_t t = 0; t < T; ++t)
    if (batch.loss_mask[b * T + t]) {
      if (first < 0) first = int(t);
      d.answer.push_back(task.token_name(batch.targets[b * T + t]));
    }
  EXPECT_GE(first, 0) << "row " << b << " has no scored token";
  for (int t = 0; t <= first; ++t) d.prompt.push_back(task.token_name(batch.inputs[b * T + t]));
  // The scored tokens are contiguous and end the example: after them only padding (the
  // last answer token is a target only, so its position holds no input).
  for (std::size_t t = first; t < T; ++t) {
    const bool scored = batch.loss_mask[b * T + t];
    if (t < std::size_t(first) + d.answer.size()) {
      EXPECT_TRUE(scored) << "row " << b << " position " << t;
    } else {
      EXPECT_FALSE(scored) << "row " << b << " position " << t;
      EXPECT_EQ(batch.inputs[b * T + t], 0) << "row " << b << " position " << t << ": expected padding";
    }
  }
  return d;
}

// Python's a % m (0..m-1 also for negative a), the authors' modulo.
long long python_mod(long long a, long long m) { return ((a % m) + m) % m; }

// ---- addition ------------------------------------------------------------------------

TEST(Addition, AnswerIsTheSumAndOperandsFollowTheAuthorsBins) {
  auto task = build("addition", "{length: 8, min_length: 4}");
  for (const int n : {4, 8, 12}) {
    Rng rng(11 + n);
    const int rows = 600;
    const Batch batch = task->make_batch(rng, Split::Eval, rows, n, n);
    std::map<std::pair<int, int>, int> bins;
    double leading_sum = 0, inner_sum = 0;
    int leading = 0, inner = 0;
    for (int b = 0; b < rows; ++b) {
      const Decoded d = decode(*task, batch, b);
      ASSERT_EQ(d.prompt.back(), "=");
      const auto plus = std::find(d.prompt.begin(), d.prompt.end(), "+");
      ASSERT_NE(plus, d.prompt.end());
      const std::vector<std::string> a(d.prompt.begin(), plus), bb(plus + 1, d.prompt.end() - 1);
      ++bins[{int(a.size()), int(bb.size())}];
      // A number's digits, as the authors draw it: uniform in [10^(d-1), 10^d), [0, 10) for d = 1.
      unsigned long long x = 0, y = 0;
      for (const auto* digits : {&a, &bb}) {
        for (std::size_t i = 0; i < digits->size(); ++i) {
          const int v = std::stoi((*digits)[i]);
          ASSERT_TRUE(v >= 0 && v <= 9);
          if (i == 0 && digits->size() > 1) {
            EXPECT_NE(v, 0) << "leading zero";
            leading_sum += v;
            ++leading;
          } else if (i > 0) {
            inner_sum += v;
            ++inner;
          }
        }
      }
      for (const auto& s : a) x = 10 * x + std::stoi(s);
      for (const auto& s : bb) y = 10 * y + std::stoi(s);
      std::string expected = std::to_string(x + y);
      std::vector<std::string> want;
      for (char c : expected) want.push_back(std::string(1, c));
      want.push_back("<eos>");
      EXPECT_EQ(d.answer, want) << x << " + " << y;
    }
    // Bins: max(d_a, d_b) = n, the other from min(min_length, n) = 4 up, all equally likely.
    const int lower = std::min(4, n);
    const int count = 2 * (n - lower) + 1;
    EXPECT_EQ(int(bins.size()), count) << "n " << n;
    for (const auto& [bin, k] : bins) {
      EXPECT_EQ(std::max(bin.first, bin.second), n);
      EXPECT_GE(std::min(bin.first, bin.second), lower);
      // Binomial(rows, 1/count): within 5 standard deviations.
      const double p = 1.0 / count, sd = std::sqrt(rows * p * (1 - p));
      EXPECT_NEAR(k, rows * p, 5 * sd) << bin.first << "-by-" << bin.second;
    }
    EXPECT_NEAR(leading_sum / leading, 5.0, 0.15);  // uniform 1..9
    EXPECT_NEAR(inner_sum / inner, 4.5, 0.1);       // uniform 0..9
  }
}

TEST(Addition, OneDigitOperandsIncludeZero) {
  auto task = build("addition", "{length: 1}");
  Rng rng(3);
  const Batch batch = task->make_batch(rng, Split::Train, 400, 1, 1);
  std::set<std::string> operands;
  for (int b = 0; b < 400; ++b) {
    const Decoded d = decode(*task, batch, b);
    ASSERT_EQ(d.prompt.size(), 4u);  // a + b =
    operands.insert(d.prompt[0]);
  }
  EXPECT_EQ(operands.size(), 10u);  // [0, 10): 0 included
}

// ---- summation -----------------------------------------------------------------------

TEST(Summation, AnswerIsTheSumModuloTenOfValuesOneToNine) {
  auto task = build("summation", "{length: 16, min_length: 4}");
  Rng rng(5);
  const Batch batch = task->make_batch(rng, Split::Train, 800, 4, 16);
  std::map<int, int> values, answers;
  int total = 0;
  for (int b = 0; b < 800; ++b) {
    const Decoded d = decode(*task, batch, b);
    ASSERT_EQ(d.prompt.back(), "=");
    ASSERT_EQ(d.answer.size(), 1u);
    long long sum = 0;
    for (std::size_t i = 0; i + 1 < d.prompt.size(); ++i) {
      const int v = std::stoi(d.prompt[i]);
      ++values[v];
      ++total;
      sum += v;
    }
    EXPECT_GE(d.prompt.size() - 1, 4u);
    EXPECT_LE(d.prompt.size() - 1, 16u);
    EXPECT_EQ(d.answer[0], std::to_string(sum % 10));
    ++answers[std::stoi(d.answer[0])];
  }
  EXPECT_EQ(values.size(), 9u);
  EXPECT_EQ(values.begin()->first, 1);
  for (const auto& [v, k] : values) EXPECT_NEAR(double(k) / total, 1.0 / 9, 0.02) << v;
  // Sums of >= 4 values are close to uniform modulo 10.
  EXPECT_EQ(answers.size(), 10u);
  for (const auto& [v, k] : answers) EXPECT_NEAR(k / 800.0, 0.1, 0.04) << v;
}

TEST(Summation, ModuloOption) {
  auto task = build("summation", "{length: 5, modulo: 3}");
  Rng rng(8);
  const Batch batch = task->make_batch(rng, Split::Train, 100, 5, 5);
  for (int b = 0; b < 100; ++b) {
    const Decoded d = decode(*task, batch, b);
    long long sum = 0;
    for (std::size_t i = 0; i + 1 < d.prompt.size(); ++i) sum += std::stoi(d.prompt[i]);
    EXPECT_EQ(d.answer, std::vector<std::string>{std::to_string(sum % 3)});
  }
  EXPECT_NE(build_error("summation", "{modulo: 11}").find("task.modulo"), std::string::npos);
}

// ---- parity --------------------------------------------------------------------------

TEST(Parity, YesExactlyWhenTheNumberOfOnesIsEven) {
  auto task = build("parity", "{length: 20, min_length: 3}");
  Rng rng(9);
  const Batch batch = task->make_batch(rng, Split::Train, 1000, 3, 20);
  int ones = 0, bits = 0, yes = 0;
  for (int b = 0; b < 1000; ++b) {
    const Decoded d = decode(*task, batch, b);
    ASSERT_EQ(d.prompt.back(), "?");
    int count = 0;
    for (std::size_t i = 0; i + 1 < d.prompt.size(); ++i) {
      ASSERT_TRUE(d.prompt[i] == "0" || d.prompt[i] == "1") << d.prompt[i];
      count += d.prompt[i] == "1";
      ++bits;
    }
    ones += count;
    ASSERT_EQ(d.answer.size(), 1u);
    EXPECT_EQ(d.answer[0], count % 2 == 0 ? "Yes" : "No");
    yes += d.answer[0] == "Yes";
  }
  EXPECT_NEAR(double(ones) / bits, 0.5, 0.02);
  EXPECT_NEAR(yes / 1000.0, 0.5, 0.06);
}

// ---- polynomial evaluation -----------------------------------------------------------

TEST(PolynomialEvaluation, AnswerIsTheValueModuloTenAsPythonTakesIt) {
  auto task = build("polynomial_evaluation", "{length: 8, min_length: 1}");
  Rng rng(12);
  const Batch batch = task->make_batch(rng, Split::Train, 1000, 1, 8);
  std::map<int, int> coefficients, degrees, xs;
  int terms = 0, negative_values = 0;
  for (int b = 0; b < 1000; ++b) {
    const Decoded d = decode(*task, batch, b);
    ASSERT_EQ(d.prompt.back(), "=");
    ASSERT_EQ(d.prompt.size() % 2, 0u);  // x, (coefficient, degree)*, =
    const int x = std::stoi(d.prompt[0]);
    ++xs[x];
    long long value = 0;
    for (std::size_t i = 1; i + 1 < d.prompt.size(); i += 2) {
      const int c = std::stoi(d.prompt[i]);
      ASSERT_EQ(d.prompt[i + 1][0], '^');
      const int deg = std::stoi(d.prompt[i + 1].substr(1));
      ++coefficients[c];
      ++degrees[deg];
      ++terms;
      value += static_cast<long long>(c * std::pow(x, deg));
    }
    negative_values += value < 0;
    EXPECT_EQ(d.answer, std::vector<std::string>{std::to_string(python_mod(value, 10))}) << "value " << value;
  }
  EXPECT_GT(negative_values, 100);  // the Python-modulo branch is exercised
  ASSERT_EQ(coefficients.size(), 7u);
  EXPECT_EQ(coefficients.begin()->first, -3);
  for (const auto& [c, k] : coefficients) EXPECT_NEAR(double(k) / terms, 1.0 / 7, 0.02) << c;
  ASSERT_EQ(degrees.size(), 4u);
  for (const auto& [deg, k] : degrees) EXPECT_NEAR(double(k) / terms, 0.25, 0.02) << deg;
  ASSERT_EQ(xs.size(), 5u);
  EXPECT_EQ(xs.begin()->first, -2);
  for (const auto& [x, k] : xs) EXPECT_NEAR(k / 1000.0, 0.2, 0.05) << x;
}

// ---- lego ----------------------------------------------------------------------------

struct Lego {
  std::vector<std::array<std::string, 4>> clauses;  // lhs = sign rhs
  std::string query, answer;
};

Lego parse_lego(const Decoded& d) {
  Lego l;
  EXPECT_EQ(d.prompt.size() % 4, 2u);
  for (std::size_t i = 0; i + 2 < d.prompt.size(); i += 4) {
    l.clauses.push_back({d.prompt[i], d.prompt[i + 1], d.prompt[i + 2], d.prompt[i + 3]});
    EXPECT_EQ(d.prompt[i + 1], "=");
    EXPECT_TRUE(d.prompt[i + 2] == "+" || d.prompt[i + 2] == "-");
  }
  EXPECT_EQ(d.prompt[d.prompt.size() - 2], "?");
  l.query = d.prompt.back();
  EXPECT_EQ(d.answer.size(), 1u);
  l.answer = d.answer.empty() ? "" : d.answer[0];
  return l;
}

// Resolves every variable by repeated passes (whatever the clause order): +1 / -1.
std::map<std::string, int> resolve(const Lego& l) {
  std::map<std::string, int> value;
  for (std::size_t pass = 0; pass <= l.clauses.size(); ++pass)
    for (const auto& c : l.clauses) {
      const int sign = c[2] == "+" ? 1 : -1;
      if (c[3] == "1") value[c[0]] = sign;
      else if (value.count(c[3])) value[c[0]] = sign * value[c[3]];
    }
  return value;
}

TEST(Lego, AnswerIsTheQueriedVariablesValueFromTheSecondHalfOfTheChain) {
  auto task = build("lego", "{length: 8, min_length: 2}");
  Rng rng(13);
  const int rows = 1200;
  const Batch batch = task->make_batch(rng, Split::Eval, rows, 8, 8);
  std::map<int, int> query_index;
  int plus = 0;
  for (int b = 0; b < rows; ++b) {
    const Lego l = parse_lego(decode(*task, batch, b));
    ASSERT_EQ(l.clauses.size(), 8u);
    std::set<std::string> names;
    for (const auto& c : l.clauses) names.insert(c[0]);
    EXPECT_EQ(names.size(), 8u) << "names are distinct";
    // Chain order: the first clause is the constant, each next one reads the previous.
    EXPECT_EQ(l.clauses[0][3], "1");
    for (std::size_t i = 1; i < l.clauses.size(); ++i) EXPECT_EQ(l.clauses[i][3], l.clauses[i - 1][0]);
    const auto value = resolve(l);
    ASSERT_EQ(value.size(), 8u);
    ASSERT_TRUE(value.count(l.query));
    EXPECT_EQ(l.answer, value.at(l.query) > 0 ? "+" : "-");
    plus += l.answer == "+";
    for (std::size_t i = 0; i < l.clauses.size(); ++i)
      if (l.clauses[i][0] == l.query) ++query_index[int(i)];
  }
  // ceil(8/2) = 4 .. 7, uniform.
  ASSERT_EQ(query_index.size(), 4u);
  EXPECT_EQ(query_index.begin()->first, 4);
  for (const auto& [i, k] : query_index) EXPECT_NEAR(k / double(rows), 0.25, 0.05) << i;
  EXPECT_NEAR(plus / double(rows), 0.5, 0.05);
}

TEST(Lego, OddLengthsQueryFromCeilHalfAndNamesComeFromTheWholeAlphabet) {
  auto task = build("lego", "{length: 7, names: 26}");
  Rng rng(14);
  const Batch batch = task->make_batch(rng, Split::Train, 400, 7, 7);
  std::set<int> indices;
  std::set<std::string> names;
  for (int b = 0; b < 400; ++b) {
    const Lego l = parse_lego(decode(*task, batch, b));
    for (std::size_t i = 0; i < l.clauses.size(); ++i) {
      names.insert(l.clauses[i][0]);
      if (l.clauses[i][0] == l.query) indices.insert(int(i));
    }
  }
  EXPECT_EQ(indices, (std::set<int>{4, 5, 6}));  // 7 // 2 + 1 = 4 .. 6
  EXPECT_EQ(names.size(), 26u);
}

TEST(Lego, PermutedClausesStillDetermineTheAnswer) {
  auto task = build("lego", "{length: 6, permute_clauses: true}");
  Rng rng(15);
  const Batch batch = task->make_batch(rng, Split::Train, 300, 6, 6);
  int out_of_order = 0;
  for (int b = 0; b < 300; ++b) {
    const Lego l = parse_lego(decode(*task, batch, b));
    const auto value = resolve(l);
    ASSERT_EQ(value.size(), 6u);
    EXPECT_EQ(l.answer, value.at(l.query) > 0 ? "+" : "-");
    out_of_order += l.clauses[0][3] != "1";
  }
  EXPECT_NEAR(out_of_order / 300.0, 5.0 / 6, 0.07);  // the constant clause lands first 1 time in 6
}

TEST(Lego, LengthsBeyondTheNamesAreConfigErrors) {
  EXPECT_NE(build_error("lego", "{length: 27}").find("task.length"), std::string::npos);
  auto task = build("lego", "{length: 8, names: 10}");
  Rng rng(0);
  EXPECT_THROW(task->check_length(11), ConfigError);
  EXPECT_THROW(task->make_batch(rng, Split::Eval, 2, 11, 11), ConfigError);
  EXPECT_NE(build_error("lego", "{length: 1}").find("task.length"), std::string::npos);
}

}  // namespace
}  // namespace poslab
