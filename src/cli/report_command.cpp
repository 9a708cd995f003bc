// poslab report RESULTS...: comparison tables from results files (files or folders,
// searched recursively for *.h5). One row per configuration: runs whose resolved
// configuration differs only in the seed are one row, reported as mean ± sd over seeds.
// Columns: evaluation metrics per evaluation length, chosen probe metrics, throughput.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "cli/table.h"
#include "io/h5file.h"
#include "io/results.h"

namespace poslab::cli {

namespace {

namespace fs = std::filesystem;

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
      for (const auto& e : fs::recursive_directory_iterator(in))
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

// One results file, reduced to the numbers a report can show.
struct RunNumbers {
  std::string run_name, encoder, group_key;
  std::map<std::string, double> values;  // column name -> value
};

RunNumbers read_run(const std::string& path, const std::vector<std::string>& metrics,
                    const std::vector<std::string>& probe_metrics) {
  check_results_schema(path);
  H5Reader f(path);
  RunNumbers r;
  r.run_name = f.attr_string("/", "run_name");
  r.encoder = f.attr_string("/", "encoder");
  // The configuration without its seed identifies a row; seeds are its repetitions.
  const std::string config = f.read_string("/config");
  r.group_key = f.attr_string("/", "experiment") + "\n" +
                std::regex_replace(config, std::regex("(^|\n)seed: [0-9]+"), "$1");
  // Evaluation metrics: "metric@L" for the task as trained, "metric@L/variant" for each
  // evaluation variant (eval.variants: the same model on changed task options).
  auto read_eval = [&](const std::string& group, const std::string& variant) {
    const auto lengths = f.read(group + "/length");
    for (const auto& m : metrics) {
      const auto v = f.read(group + "/" + m);
      for (std::size_t i = 0; i < lengths.size(); ++i)
        r.values[m + "@" + std::to_string(int(lengths[i])) + (variant.empty() ? "" : "/" + variant)] = v[i];
    }
  };
  read_eval("/eval", "");
  if (f.exists("/eval/variants"))
    for (const auto& variant : f.members("/eval/variants")) read_eval("/eval/variants/" + variant, variant);
  for (const auto& pm : probe_metrics) {
    const auto dot = pm.find('.');
    if (dot == std::string::npos)
      throw ConfigError("poslab report: --probes: '" + pm + "': expected probe.metric, e.g. hidden.final_mae");
    const std::string group = "/probes/" + pm.substr(0, dot), name = pm.substr(dot + 1);
    r.values[pm] = (f.exists(group) && f.has_attr(group, name)) ? f.attr_double(group, name) : NAN;
  }
  const auto tps = f.read("/train/tokens_per_second");
  double sum = 0;
  for (double t : tps) sum += t;
  r.values["tokens/s"] = tps.empty() ? NAN : sum / tps.size();
  return r;
}

std::string mean_sd(const std::vector<double>& xs, int decimals) {
  std::vector<double> v;
  for (double x : xs)
    if (!std::isnan(x)) v.push_back(x);
  if (v.empty()) return "-";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  if (v.size() == 1) return fixed(mean, decimals);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return fixed(mean, decimals) + " ± " + fixed(std::sqrt(ss / (v.size() - 1)), decimals);
}

void print_rows(const std::vector<std::vector<std::string>>& rows, const std::string& format) {
  if (format == "csv") {
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) {
        const bool quote = row[c].find_first_of(",\"") != std::string::npos;
        std::cout << (c ? "," : "") << (quote ? "\"" + row[c] + "\"" : row[c]);
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
  std::string format, metrics_text, probes_text;
  bool throughput = false;
  int decimals = 3;
  options.add_options()
      ("results", po::value(&inputs)->required(), "results files or folders")
      ("format", po::value(&format)->default_value("table"), "table | markdown | csv")
      ("metrics", po::value(&metrics_text)->default_value("token_accuracy,exact_match"),
       "evaluation metrics, one column per evaluation length: loss, token_accuracy, exact_match, perplexity")
      ("probes", po::value(&probes_text)->default_value(""),
       "probe metrics as probe.metric, e.g. absolute_position.mae,hidden.final_mae")
      ("throughput", po::bool_switch(&throughput), "add mean training tokens/s")
      ("decimals", po::value(&decimals)->default_value(3), "decimals shown");
  po::positional_options_description positional;
  positional.add("results", -1);
  po::variables_map vm;
  if (!parse_args("report", "poslab report RESULTS... [--format table|markdown|csv] [--metrics ...] [--probes ...]",
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

  // Group runs by configuration (first appearance order), collecting each column's values.
  std::vector<std::string> order;
  std::map<std::string, std::vector<RunNumbers>> groups;
  std::vector<std::string> columns;
  for (const auto& file : results_files(inputs)) {
    RunNumbers r = read_run(file, metrics, probe_metrics);
    for (const auto& [col, v] : r.values)
      if (std::find(columns.begin(), columns.end(), col) == columns.end()) columns.push_back(col);
    if (!groups.count(r.group_key)) order.push_back(r.group_key);
    groups[r.group_key].push_back(std::move(r));
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

  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"run", "encoder", "seeds"};
  header.insert(header.end(), columns.begin(), columns.end());
  rows.push_back(header);
  for (const auto& key : order) {
    const auto& runs = groups[key];
    // The row stands for every seed: drop a sweep's seed label from the name.
    const std::string label = std::regex_replace(runs[0].run_name, std::regex("__seed-[^_]*"), "");
    std::vector<std::string> row = {label, runs[0].encoder, std::to_string(runs.size())};
    for (const auto& col : columns) {
      std::vector<double> xs;
      for (const auto& r : runs) xs.push_back(r.values.count(col) ? r.values.at(col) : NAN);
      row.push_back(mean_sd(xs, col == "tokens/s" ? 0 : decimals));
    }
    rows.push_back(row);
  }
  print_rows(rows, format);
  return 0;
}

}  // namespace poslab::cli
