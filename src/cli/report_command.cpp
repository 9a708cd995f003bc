// poslab report RESULTS...: comparison tables from results files (files or folders,
// searched recursively for *.h5). One row per configuration: runs whose resolved
// configuration differs only in the seed are one row, reported as mean ± sd over seeds.
// Columns: evaluation metrics per evaluation length, chosen probe metrics, throughput.
// Files that are not a run's results (probe/encode outputs) are skipped with a note,
// unreadable ones with a warning; diverged runs are counted apart, never averaged in.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "cli/commands.h"
#include "cli/isolated.h"
#include "cli/options_util.h"
#include "cli/table.h"
#include "io/file_kind.h"
#include "io/run_summary.h"
#include "io/seed_group.h"
#include "io/seed_interval.h"

namespace poslab::cli {

namespace {

namespace fs = std::filesystem;

// A results file is read in well under a second; far longer means libhdf5 is stuck on it.
constexpr int kReadTimeoutSeconds = 60;

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<std::string> results_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::recursive_directory_iterator(in, fs::directory_options::skip_permission_denied))
        if (e.is_regular_file() && e.path().extension() == ".h5") files.push_back(e.path().string());
    } else if (fs::is_regular_file(in)) {
      files.push_back(in);
    } else {
      throw ConfigError(in + ": no such file or folder; expected results files or folders");
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw ConfigError("poslab report: no .h5 results files found");
  return files;
}

// A probe column name "probe.metric": word characters on both sides of one dot (an '@' or
// '/' would read as an evaluation column).
bool valid_probe_metric(const std::string& pm) {
  static const std::regex form("[A-Za-z0-9_]+\\.[A-Za-z0-9_]+");
  return std::regex_match(pm, form);
}

// Why a poslab file that is not a run's results is skipped, for the note on stderr.
std::string describe_kind(const std::string& kind) {
  if (kind == kFileKindProbe) return "a `poslab probe` output";
  if (kind == kFileKindEncoding) return "a `poslab encode` output";
  if (kind.empty()) return "an HDF5 file not written by poslab";
  return "file_kind '" + kind + "'";
}

// A reader's message names the file already ("x.h5: /eval/loss: ..."); others get it here.
std::string naming(const std::string& file, const std::string& what) {
  return what.rfind(file, 0) == 0 ? what : file + ": " + what;
}

// ---- One file, read in a child process (cli/isolated.h) and sent back as bytes:
//      "K<kind>" for a file that is not a run's results, else "S" and the RunSummary as
//      length-prefixed strings and raw doubles (parent and child are the same binary).

void put(std::string& out, const std::string& text) { out += std::to_string(text.size()) + ":" + text; }
void put(std::string& out, double v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

class Unpacker {
 public:
  explicit Unpacker(const std::string& bytes) : bytes_(bytes) {}
  std::string text() {
    const std::size_t colon = bytes_.find(':', pos_);
    const std::size_t n = std::stoul(bytes_.substr(pos_, colon - pos_));
    std::string out = bytes_.substr(colon + 1, n);
    pos_ = colon + 1 + n;
    return out;
  }
  double number() {
    double v = 0;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

 private:
  const std::string& bytes_;
  std::size_t pos_ = 1;  // after the tag
};

std::string pack(const RunSummary& r) {
  std::string out = "S";
  put(out, r.run_name);
  put(out, r.name_without_seed);
  put(out, r.encoder);
  put(out, r.group_key);
  put(out, r.diverged ? 1.0 : 0.0);
  put(out, double(r.values.size()));
  for (const auto& [column, value] : r.values) {
    put(out, column);
    put(out, value);
  }
  return out;
}

RunSummary unpack(const std::string& bytes) {
  Unpacker in(bytes);
  RunSummary r;
  r.run_name = in.text();
  r.name_without_seed = in.text();
  r.encoder = in.text();
  r.group_key = in.text();
  r.diverged = in.number() != 0;
  for (std::size_t i = 0, n = std::size_t(in.number()); i < n; ++i) {
    std::string column = in.text();
    r.values[column] = in.number();
  }
  return r;
}

// Reads one file in a child process, so that a damaged file that crashes or hangs libhdf5
// is skipped like any other unreadable file. Returns the run, or prints why it is skipped.
std::optional<RunSummary> read_file(const std::string& file, const std::vector<std::string>& metrics,
                                    const std::vector<std::string>& probe_metrics) {
  const IsolatedOutcome outcome = run_isolated(
      [&] {
        const std::string kind = file_kind(file);
        if (kind != kFileKindRunResults) return "K" + kind;
        return pack(read_run_summary(file, metrics, probe_metrics));
      },
      kReadTimeoutSeconds);
  if (!outcome.ok) {
    std::cerr << "warning: skipping " << naming(file, outcome.text) << "\n";
    return std::nullopt;
  }
  if (outcome.text[0] == 'K') {
    std::cerr << "note: skipping " << file << ": " << describe_kind(outcome.text.substr(1))
              << ", not a run's results\n";
    return std::nullopt;
  }
  return unpack(outcome.text);
}

// One cell: mean ± sd over the finite values, which come from `seeds` runs. When some
// values are missing or not finite, "(k/n)" says how many of the row's seeds went into
// the mean; "-" when none did (e.g. exact_match of a task without one). With --ci
// (resamples > 0) the cell adds the 95% percentile bootstrap interval of the mean,
// "[lower, upper]", or says that one seed has none (io/seed_interval.h).
std::string cell(const std::vector<double>& xs, int decimals, int resamples) {
  std::vector<double> v;
  for (double x : xs)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return "-";
  const SeedInterval s = seed_interval(v, 0.95, resamples);
  std::string text = fixed(s.mean, decimals);
  if (v.size() > 1) text += " ± " + fixed(s.sd, decimals);
  if (resamples > 0)
    text += s.has_interval ? " [" + fixed(s.lower, decimals) + ", " + fixed(s.upper, decimals) + "]"
                           : " (1 seed: no interval)";
  if (v.size() < xs.size())
    text += " (" + std::to_string(v.size()) + "/" + std::to_string(xs.size()) + ")";
  return text;
}

void print_rows(const std::vector<std::vector<std::string>>& rows, const std::string& format) {
  if (format == "csv") {
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) {
        // RFC 4180: a cell with a comma or quote is quoted, its quotes doubled
        const bool quote = row[c].find_first_of(",\"") != std::string::npos;
        std::cout << (c ? "," : "")
                  << (quote ? "\"" + std::regex_replace(row[c], std::regex("\""), "\"\"") + "\"" : row[c]);
      }
      std::cout << "\n";
    }
  } else if (format == "markdown") {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::cout << "|";
      for (const auto& cell : rows[r]) std::cout << " " << cell << " |";
      std::cout << "\n";
      if (r == 0) {
        std::cout << "|";
        for (std::size_t c = 0; c < rows[0].size(); ++c) std::cout << (c ? "---:|" : "---|");
        std::cout << "\n";
      }
    }
  } else {
    TextTable table(rows[0]);
    for (std::size_t r = 1; r < rows.size(); ++r) table.add(rows[r]);
    table.print(std::cout);
  }
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  po::options_description options("poslab report options");
  std::vector<std::string> inputs;
  std::string format, metrics_text, probes_text, variants_text;
  bool throughput = false, ci = false;
  int decimals = 3, resamples = kDefaultResamples;
  options.add_options()
      ("results", po::value(&inputs)->required(), "results files or folders")
      ("format", po::value(&format)->default_value("table"), "table | markdown | csv")
      ("metrics", po::value(&metrics_text)->default_value("token_accuracy,exact_match"),
       "evaluation metrics, one column per evaluation length: loss, token_accuracy, exact_match, perplexity")
      ("probes", po::value(&probes_text)->default_value(""),
       "probe metrics as probe.metric, e.g. absolute_position.mae,hidden.final_mae")
      ("variants", po::value(&variants_text)->default_value("all"),
       "eval.variants columns: all, none, or a list of variant names")
      ("throughput", po::bool_switch(&throughput), "add mean training tokens/s")
      ("ci", po::bool_switch(&ci),
       "add a 95% percentile bootstrap interval of each mean over seeds, [lower, upper]")
      ("resamples", po::value(&resamples)->default_value(kDefaultResamples),
       "bootstrap resamples for --ci (fixed seed: the same values give the same interval)")
      ("decimals", po::value(&decimals)->default_value(3), "decimals shown");
  po::positional_options_description positional;
  positional.add("results", -1);
  po::variables_map vm;
  if (!parse_args("report", "poslab report RESULTS... [--format table|markdown|csv] [--metrics ...] [--probes ...] [--ci]",
                  args, options, positional, vm))
    return 0;
  if (format != "table" && format != "markdown" && format != "csv")
    throw ConfigError("poslab report: --format: expected table, markdown or csv, got '" + format + "'");
  const auto metrics = split_list(metrics_text);
  for (const auto& m : metrics)
    if (m != "loss" && m != "token_accuracy" && m != "exact_match" && m != "perplexity")
      throw ConfigError("poslab report: --metrics: '" + m +
                        "': expected loss, token_accuracy, exact_match or perplexity");
  const auto probe_metrics = split_list(probes_text);
  for (const auto& pm : probe_metrics)
    if (!valid_probe_metric(pm))
      throw ConfigError("poslab report: --probes: '" + pm + "': expected probe.metric, e.g. hidden.final_mae");
  if (resamples < 100 || resamples > 10000000)
    throw ConfigError("poslab report: --resamples: expected an integer from 100 to 10000000, got " +
                      std::to_string(resamples));
  if (decimals < 0 || decimals > 17)
    throw ConfigError("poslab report: --decimals: expected an integer from 0 to 17, got " + std::to_string(decimals));

  // Read every file; one that is not a run's results (a probe or encode output in the
  // same folder) is skipped with a note, one that cannot be read with a warning.
  const auto files = results_files(inputs);
  std::vector<RunSummary> runs;
  for (const auto& file : files)
    if (auto run = read_file(file, metrics, probe_metrics)) runs.push_back(std::move(*run));
  if (runs.empty())
    throw ConfigError("poslab report: none of the " + std::to_string(files.size()) +
                      " .h5 files is a readable run's results file; expected files written by poslab run or sweep");

  // Group runs by configuration (first appearance order), collecting each column's values.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunSummary*>> groups;
  std::vector<std::string> columns;
  bool any_diverged = false;
  for (const auto& r : runs) {
    for (const auto& [col, v] : r.values)
      if (std::find(columns.begin(), columns.end(), col) == columns.end()) columns.push_back(col);
    if (!groups.count(r.group_key)) order.push_back(r.group_key);
    groups[r.group_key].push_back(&r);
    any_diverged = any_diverged || r.diverged;
  }
  // eval columns by metric, then length (numeric), the task as trained before its
  // variants; then probes, then throughput
  auto rank = [&](const std::string& c) {
    if (c == "tokens/s") return std::make_tuple(2, 0L, 0, std::string());
    const auto at = c.find('@');
    if (at == std::string::npos) return std::make_tuple(1, 0L, 0, c);
    const long m = std::find(metrics.begin(), metrics.end(), c.substr(0, at)) - metrics.begin();
    const auto slash = c.find('/', at);
    const std::string variant = slash == std::string::npos ? "" : c.substr(slash + 1);
    return std::make_tuple(0, m, std::stoi(c.substr(at + 1)), variant);
  };
  std::sort(columns.begin(), columns.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  if (!throughput) columns.erase(std::remove(columns.begin(), columns.end(), "tokens/s"), columns.end());
  // Variant columns (metric@L/<variant>) as asked: all, none, or the listed names.
  if (variants_text != "all") {
    const auto wanted = variants_text == "none" ? std::vector<std::string>{} : split_list(variants_text);
    columns.erase(std::remove_if(columns.begin(), columns.end(),
                                 [&](const std::string& c) {
                                   const auto at = c.find('@');
                                   const auto slash = at == std::string::npos ? at : c.find('/', at);
                                   if (slash == std::string::npos) return false;
                                   return std::find(wanted.begin(), wanted.end(), c.substr(slash + 1)) ==
                                          wanted.end();
                                 }),
                  columns.end());
  }

  // A diverged run's final numbers say nothing about its configuration: it is left out of
  // every mean of its row, `seeds` counts the runs that went in, and a `diverged` column
  // (shown only when a run diverged) counts the ones left out.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"run", "encoder", "seeds"};
  if (any_diverged) header.push_back("diverged");
  header.insert(header.end(), columns.begin(), columns.end());
  rows.push_back(header);
  for (const auto& key : order) {
    std::vector<const RunSummary*> used;
    int diverged = 0;
    for (const RunSummary* r : groups[key]) {
      if (r->diverged) ++diverged;
      else used.push_back(r);
    }
    // The row stands for every seed: its runs' names without their seed labels (one name
    // for a sweep's seeds; each name for runs named freely).
    const RunSummary& first = *groups[key][0];
    std::vector<std::string> names;
    for (const RunSummary* r : groups[key]) names.push_back(r->name_without_seed);
    std::vector<std::string> row = {seed_group_label(names), first.encoder, std::to_string(used.size())};
    if (any_diverged) row.push_back(std::to_string(diverged));
    for (const auto& col : columns) {
      std::vector<double> xs;
      for (const RunSummary* r : used) xs.push_back(r->values.count(col) ? r->values.at(col) : NAN);
      row.push_back(cell(xs, col == "tokens/s" ? 0 : decimals, ci ? resamples : 0));
    }
    rows.push_back(row);
  }
  print_rows(rows, format);
  if (ci)
    std::cerr << "note: [lower, upper] is a 95% percentile bootstrap interval of the mean over a row's seeds ("
              << resamples << " resamples, fixed seed); a row with one seed has no interval\n";
  return 0;
}

}  // namespace poslab::cli
