// A seeded mutational fuzz test of the experiment loader: the experiment files under
// tests/data/experiments are mutated (byte flips, YAML syntax inserted, lines deleted or
// repeated, huge numbers, deep nesting, alias bombs) and loaded in-process. Every case
// must end in success or a one-line ConfigError, quickly: never std::bad_alloc, another
// exception, a crash or a hang. A failing case prints its index and text; the seed is fixed, so it
// reproduces.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "core/config_text.h"
#include "io/config.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSeed = 18;
constexpr int kCases = 2500;
// A case that blows up (an alias bomb expanded, exponential nesting) takes minutes or
// never ends; a normal case takes milliseconds. The bound sits far between the two so that
// a loaded machine (this suite runs beside builds and studies) never trips it; the total
// time is recorded, not asserted.
constexpr double kMaxSecondsPerCase = 20.0;

// Fragments a hand-written hostile file would use.
const std::vector<std::string> kSyntax = {
    "&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ":", ": ", "- ", ",", "?", "? ", "|", ">",
    "\n", "\n  ", "\n- ", "#", "'", "\"", "!!str ", "!!map ", "!!seq ", "!x ", "<<: *a\n",
    "---\n", "...\n", "%YAML 1.2\n---\n", "\t", "~", "null", "\\", "\\0", "\xff", "\xc3",
    std::string(1, '\0'), "include: x.yaml\n", "runs: [{name: r}]\n", "grid: {a: [1, 2]}\n"};

const std::vector<std::string> kNumbers = {
    "99999999999999999999999", "2147483647", "2147483648", "-2147483648", "-1", "0", "1e308",
    "1e-320", "-0", ".inf", "-.inf", ".nan", "nan", "0x10", "010", "1_000", "+5", "1e+06",
    "4294967296", "18446744073709551616", "1.5", "1e9"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return n == 0 ? 0 : std::size_t(rng_() % n); }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }

  std::string mutate(std::string text) {
    const int count = 1 + int(below(4));
    for (int i = 0; i < count; ++i) text = mutate_once(std::move(text));
    return text;
  }

 private:
  std::string mutate_once(std::string text) {
    const std::size_t at = below(text.size() + 1);
    switch (below(10)) {
      case 0:  // byte flip
        if (!text.empty()) text[below(text.size())] = char(below(256));
        return text;
      case 1:
      case 2:  // YAML syntax
        return text.insert(at, pick(kSyntax));
      case 3: {  // delete a line
        auto lines = split_lines(text);
        if (!lines.empty()) lines.erase(lines.begin() + std::ptrdiff_t(below(lines.size())));
        return join_lines(lines);
      }
      case 4: {  // repeat a line (duplicate keys, repeated runs)
        auto lines = split_lines(text);
        if (!lines.empty()) {
          const std::size_t i = below(lines.size());
          lines.insert(lines.begin() + std::ptrdiff_t(i), lines[i]);
        }
        return join_lines(lines);
      }
      case 5: {  // replace a number by an extreme one
        std::vector<std::size_t> digits;
        for (std::size_t i = 0; i < text.size(); ++i)
          if (text[i] >= '0' && text[i] <= '9' && (i == 0 || !std::isdigit((unsigned char)text[i - 1])))
            digits.push_back(i);
        if (digits.empty()) return text;
        const std::size_t start = pick(digits);
        std::size_t end = start;
        while (end < text.size() && std::isdigit((unsigned char)text[end])) ++end;
        return text.replace(start, end - start, pick(kNumbers));
      }
      case 6: {  // deep nesting, flow or block
        const std::size_t depth = 1 + below(3000);
        std::string open, close;
        if (below(2)) {
          for (std::size_t i = 0; i < depth; ++i) open += "[", close += "]";
        } else {
          for (std::size_t i = 0; i < depth; ++i) open += "{a: ", close += "}";
        }
        return text.insert(at, open + "1" + close);
      }
      case 7: {  // an alias bomb of random width and depth
        const std::size_t width = 2 + below(9), levels = 2 + below(9);
        std::string bomb = "\nbomb0: &bomb0 [x]\n";
        for (std::size_t l = 1; l <= levels; ++l) {
          bomb += "bomb" + std::to_string(l) + ": &bomb" + std::to_string(l) + " [";
          for (std::size_t k = 0; k < width; ++k)
            bomb += (k ? ", *bomb" : "*bomb") + std::to_string(l - 1);
          bomb += "]\n";
        }
        // At the top level (an unknown key) or inside a section that is walked.
        if (below(2)) return text + bomb;
        std::string nested = "grid:\n";
        for (const auto& line : split_lines(bomb))
          if (!line.empty()) nested += "  " + line + "\n";
        return text + nested;
      }
      case 8: {  // swap two lines
        auto lines = split_lines(text);
        if (lines.size() > 1) std::swap(lines[below(lines.size())], lines[below(lines.size())]);
        return join_lines(lines);
      }
      default:  // truncate
        return text.substr(0, at);
    }
  }

  std::mt19937_64 rng_;
};

TEST(FuzzConfig, MutatedExperimentsLoadOrFailWithAConfigError) {
  const fs::path source = fs::path(POSLAB_SOURCE_DIR) / "tests" / "data" / "experiments";
  // Mutants live next to a copy of the included parts, so includes still resolve.
  const fs::path dir = testing::fresh_dir("fuzz_config");
  fs::copy(source / "parts", dir / "parts", fs::copy_options::recursive);
  std::vector<std::string> seeds;
  for (const auto& entry : fs::directory_iterator(source))
    if (entry.path().extension() == ".yaml") seeds.push_back(read_file(entry.path()));
  std::sort(seeds.begin(), seeds.end());  // directory order is not deterministic
  ASSERT_GE(seeds.size(), 5u);

  Mutator mutator(kSeed);
  const fs::path file = dir / "mutant.yaml";
  int loaded = 0, refused = 0;
  double slowest = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < kCases; ++c) {
    const std::string text = mutator.mutate(mutator.pick(seeds));
    // One case in four also mutates a --set value.
    std::vector<std::string> sets;
    if (mutator.below(4) == 0) sets.push_back("model.d_model=" + mutator.mutate("[16, {a: 1}]"));
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;

    const auto case_start = std::chrono::steady_clock::now();
    std::string failure;
    try {
      load_experiment(file.string(), sets);
      ++loaded;
    } catch (const ConfigError& e) {
      ++refused;
      const std::string message = e.what();
      if (message.find_first_of("\n\r") != std::string::npos)
        failure = "ConfigError of more than one line: " + printable(message, 400);
    } catch (const std::exception& e) {
      failure = std::string("threw ") + typeid(e).name() + ": " + e.what();
    } catch (...) {
      failure = "threw a non-standard exception";
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - case_start).count();
    slowest = std::max(slowest, seconds);
    if (seconds > kMaxSecondsPerCase) failure += " took " + std::to_string(seconds) + " s";
    if (!failure.empty()) {
      ADD_FAILURE() << "case " << c << " " << failure << "\n--- file ---\n"
                    << printable(text, 4000) << "\n--- sets ---\n"
                    << (sets.empty() ? "" : printable(sets[0], 400));
    }
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("loaded", loaded);
  RecordProperty("refused", refused);
  // Both outcomes occur: the mutations are neither all fatal nor all harmless.
  EXPECT_GT(loaded, kCases / 50) << "refused " << refused;
  EXPECT_GT(refused, kCases / 2) << "loaded " << loaded;
  RecordProperty("total_seconds", std::to_string(total));
  RecordProperty("slowest_case_seconds", std::to_string(slowest));
}

}  // namespace
}  // namespace poslab
