// poslab probe MATRIX [--probes a,b] [--set probe.option=value]... [--out FILE.h5]: run the
// matrix probes on a position matrix from outside poslab (a .npy file, or a dataset in an
// HDF5 file such as one written by `poslab encode`), e.g. GPT-2's learned table. Prints
// each probe's scalar metrics; with --out also writes them in the results file's
// /probes/<name>/ layout (io/probe_file.h), so the same tools read both.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "cli/output_file.h"
#include "cli/table.h"
#include "io/matrix_source.h"
#include "io/probe_file.h"
#include "probes/linalg.h"
#include "probes/probe.h"
#include "train/probe_runner.h"

namespace poslab::cli {

namespace {

const char* kProbeUsage =
    "poslab probe MATRIX [--probes NAME,...] [--set probe.option=value]... [--out FILE.h5 [--force]]\n"
    "  MATRIX is file.npy, file.h5:/dataset or model.safetensors:tensor.name, a 2-D array\n"
    "  whose row k is position k";

std::string registered_probes() {
  std::string known;
  for (const auto& n : ProbeRegistry::instance().names()) known += (known.empty() ? "" : ", ") + n;
  return known;
}

// "absolute_position, similarity" -> names, in the order given; unknown or repeated -> error.
std::vector<std::string> parse_probe_list(const std::string& text) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string name = text.substr(start, end - start);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (!name.empty()) {
      if (!ProbeRegistry::instance().find(name))
        throw ConfigError("poslab probe: --probes: unknown probe '" + name + "'; expected one of " +
                          registered_probes());
      for (const auto& n : names)
        if (n == name)
          throw ConfigError("poslab probe: --probes: '" + name + "' is listed twice; expected each probe once");
      names.push_back(name);
    }
    start = end + 1;
  }
  if (names.empty())
    throw ConfigError("poslab probe: --probes: expected a comma-separated list of probe names, got '" +
                      text + "'");
  return names;
}

// "--set absolute_position.folds=10" (or "probes.absolute_position.folds=10") -> the
// probe's section {name: absolute_position, folds: 10}; the value is parsed as YAML.
std::map<std::string, YAML::Node> parse_sets(const std::vector<std::string>& sets) {
  std::map<std::string, YAML::Node> sections;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    std::string key = eq == std::string::npos ? "" : s.substr(0, eq);
    if (key.rfind("probes.", 0) == 0) key = key.substr(7);
    const auto dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
      throw ConfigError("--set: '" + s + "': expected probe.option=value, e.g. absolute_position.folds=10");
    const std::string probe = key.substr(0, dot), option = key.substr(dot + 1);
    if (!ProbeRegistry::instance().find(probe))
      throw ConfigError("--set: '" + s + "': unknown probe '" + probe + "'; expected one of " +
                        registered_probes());
    YAML::Node& section = sections[probe];
    if (!section.IsMap()) section["name"] = probe;
    try {
      section[option] = YAML::Load(s.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw ConfigError("--set: '" + s + "': the value is not valid YAML: " + e.msg);
    }
  }
  return sections;
}

// Integers without decimals (n_positions), other numbers with 4, tiny ones in e-notation.
std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  if (std::isfinite(v) && v == std::round(v) && std::abs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v != 0 && std::abs(v) < 1e-3)
    std::snprintf(buf, sizeof buf, "%.3e", v);
  else
    std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

int probe_command(const std::vector<std::string>& args) {
  po::options_description options("poslab probe options");
  std::string matrix_spec, probe_list, out;
  std::vector<std::string> sets;
  bool force = false;
  options.add_options()
      ("matrix", po::value(&matrix_spec), "position matrix: file.npy, file.h5:/dataset or model.safetensors:tensor (row k = position k)")
      ("probes", po::value(&probe_list), "comma-separated probes to run (default: every probe that applies to a matrix)")
      ("set", po::value(&sets)->composing(), "probe option: --set absolute_position.folds=10")
      ("out", po::value(&out), "also write the results to this HDF5 file")
      ("force", po::bool_switch(&force), "overwrite an existing --out file");
  po::positional_options_description positional;
  positional.add("matrix", 1);
  po::variables_map vm;
  if (!parse_args("probe", kProbeUsage, args, options, positional, vm)) return 0;
  if (matrix_spec.empty())
    throw ConfigError("poslab probe: expected a MATRIX argument (file.npy, file.h5:/dataset or model.safetensors:tensor; see poslab probe --help)");

  // Everything the user typed is checked before the (possibly large) matrix is read.
  const bool listed = vm.count("probes") > 0;
  const std::vector<std::string> names =
      listed ? parse_probe_list(probe_list) : ProbeRegistry::instance().names();
  const std::map<std::string, YAML::Node> sections = parse_sets(sets);
  for (const auto& [probe, section] : sections)
    if (std::find(names.begin(), names.end(), probe) == names.end())
      throw ConfigError("--set: probe '" + probe + "' is not among --probes (" + probe_list +
                        "); expected options of the probes that run");
  if (!out.empty()) check_output_file("probe", out, force, {matrix_file(matrix_spec)});

  // The same probe runner as a trained run's (train/probe_runner.h), on a bare matrix.
  auto origins = std::make_shared<KeyOrigins>();
  std::vector<PluginSpec> specs;
  for (const auto& name : names) {
    YAML::Node section;
    if (auto it = sections.find(name); it != sections.end()) section = it->second;
    else section["name"] = name;
    // Errors name "--set: <probe>.<option>: expected ...".
    specs.push_back({name, ConfigNode(section, name, origins, "--set")});
  }
  std::vector<ConfiguredProbe> probes = build_probes(specs);

  ProbeInput input;
  input.position_matrix = load_matrix(matrix_spec);
  input.matrix_source = matrix_spec;
  const Eigen::MatrixXd& P = *input.position_matrix;
  const std::string dims = std::to_string(P.rows()) + "x" + std::to_string(P.cols());
  if (P.size() == 0) throw ConfigError(matrix_spec + ": the matrix is empty (" + dims + "): expected at least one row and column");
  if (!P.allFinite()) {
    Eigen::Index row = 0, col = 0;
    (!P.array().isFinite()).cast<int>().maxCoeff(&row, &col);
    throw ConfigError(matrix_spec + ": the matrix has NaN or infinite entries (first at row " + std::to_string(row) +
                      ", column " + std::to_string(col) + "): expected finite numbers");
  }

  // By default only the probes that can read a bare matrix run; one the user named (in
  // --probes or --set) must.
  std::erase_if(probes, [&](const ConfiguredProbe& p) {
    if (p.probe->applies(input)) return false;
    if (!listed && !sections.count(p.name)) return true;
    throw ConfigError("poslab probe: '" + p.name + "' does not apply to a " + dims +
                      " matrix (it needs a trained model's data, or more rows than its folds/pairs)");
  });
  if (probes.empty())
    throw ConfigError(matrix_spec + ": no probe applies to a " + dims + " matrix: expected more rows");
  std::vector<ProbeRecord> records;
  try {
    records = run_probes(probes, input, /*ill_conditioned_throws=*/true);
  } catch (const IllConditionedFit& e) {
    // A badly scaled matrix that the probe cannot fit: bad input, not a failure.
    throw ConfigError(matrix_spec + ": " + e.what());
  }

  std::cout << "matrix " << matrix_spec << " [" << P.rows() << ", " << P.cols() << "]\n";
  TextTable table({"probe", "metric", "value"});
  for (const auto& rec : records)
    for (const auto& [key, value] : rec.scalars) table.add({rec.name, key, format_value(value)});
  table.print(std::cout);

  if (!out.empty()) {
    write_probe_file(out, {matrix_spec, long(P.rows()), long(P.cols()), sets, records});
    std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace poslab::cli
