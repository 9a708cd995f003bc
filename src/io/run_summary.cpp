#include "io/run_summary.h"

#include <cmath>

#include "core/config_node.h"  // ConfigError
#include "io/h5file.h"
#include "io/results.h"
#include "io/seed_group.h"

namespace poslab {
namespace {

// A 1-D dataset's values; anything else (scalar, matrix) is not what the schema says.
std::vector<double> read_series(const H5Reader& f, const std::string& dataset) {
  const auto shape = f.shape(dataset);
  if (shape.size() != 1)
    throw ConfigError(f.path() + ": " + dataset + ": " + std::to_string(shape.size()) +
                      "-D dataset; expected a 1-D series");
  return f.read(dataset);
}

// The evaluation lengths of `group`: whole numbers that fit an int (they become column
// names such as "token_accuracy@64").
std::vector<int> read_lengths(const H5Reader& f, const std::string& group) {
  std::vector<int> lengths;
  for (double x : read_series(f, group + "/length")) {
    if (!(x >= 0 && x <= 1e9 && x == std::floor(x)))
      throw ConfigError(f.path() + ": " + group + "/length: value " + std::to_string(x) +
                        "; expected whole numbers between 0 and 1e9");
    lengths.push_back(int(x));
  }
  return lengths;
}

// "metric@L" for the task as trained, "metric@L/variant" for each evaluation variant
// (eval.variants: the same model on changed task options).
void read_eval(const H5Reader& f, const std::string& group, const std::string& variant,
               const std::vector<std::string>& metrics, RunSummary& r) {
  const std::vector<int> lengths = read_lengths(f, group);
  for (const auto& m : metrics) {
    const std::string dataset = group + "/" + m;
    const auto v = read_series(f, dataset);
    if (v.size() != lengths.size())
      throw ConfigError(f.path() + ": " + dataset + ": " + std::to_string(v.size()) +
                        " values; expected " + std::to_string(lengths.size()) + ", one per " +
                        group + "/length");
    for (std::size_t i = 0; i < lengths.size(); ++i)
      r.values[m + "@" + std::to_string(lengths[i]) + (variant.empty() ? "" : "/" + variant)] =
          std::isfinite(v[i]) ? v[i] : NAN;
  }
}

}  // namespace

RunSummary read_run_summary(const std::string& path, const std::vector<std::string>& metrics,
                            const std::vector<std::string>& probe_metrics) {
  check_results_schema(path);  // file_kind run_results, a known schema_version
  H5Reader f(path);
  RunSummary r;
  r.run_name = f.attr_string("/", "run_name");
  r.encoder = f.attr_string("/", "encoder");
  if (f.has_attr("/", "status")) {
    const std::string status = f.attr_string("/", "status");
    if (status != "complete" && status != "diverged")
      throw ConfigError(path + ": /: status '" + status + "'; expected complete or diverged");
    r.diverged = status == "diverged";
  }
  // The configuration without its seed identifies a row; seeds are its repetitions
  // (io/seed_group.h). The name is only the row's label.
  r.group_key = seed_group_key(f.attr_string("/", "experiment"), f.read_string("/config"), path);
  r.name_without_seed = r.run_name;
  if (f.has_attr("/", "seed")) {
    const double seed = f.attr_double("/", "seed");
    if (seed >= 0 && seed < 1.8e19 && seed == std::floor(seed))
      r.name_without_seed = without_seed_label(r.run_name, std::uint64_t(seed));
  }

  read_eval(f, "/eval", "", metrics, r);
  if (f.exists("/eval/variants"))
    for (const auto& variant : f.members("/eval/variants"))
      read_eval(f, "/eval/variants/" + variant, variant, metrics, r);

  for (const auto& pm : probe_metrics) {
    const auto dot = pm.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == pm.size())
      throw ConfigError("--probes: '" + pm + "': expected probe.metric, e.g. hidden.final_mae");
    const std::string group = "/probes/" + pm.substr(0, dot), name = pm.substr(dot + 1);
    const double v = (f.is_group(group) && f.has_attr(group, name)) ? f.attr_double(group, name) : NAN;
    r.values[pm] = std::isfinite(v) ? v : NAN;
  }

  const auto steps = read_series(f, "/train/step");
  auto train_series = [&](const std::string& dataset) {
    const auto v = read_series(f, dataset);
    if (v.size() != steps.size())
      throw ConfigError(path + ": " + dataset + ": " + std::to_string(v.size()) +
                        " values; expected " + std::to_string(steps.size()) + ", one per /train/step");
    return v;
  };
  // A non-finite training loss means the run diverged, also in files written before the
  // status attribute existed.
  for (double loss : train_series("/train/loss"))
    if (!std::isfinite(loss)) r.diverged = true;
  const auto tps = train_series("/train/tokens_per_second");
  double sum = 0;
  for (double t : tps) sum += t;
  r.values["tokens/s"] = !tps.empty() && std::isfinite(sum) ? sum / double(tps.size()) : NAN;
  return r;
}

}  // namespace poslab
