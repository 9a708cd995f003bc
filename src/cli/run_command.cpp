// poslab run EXPERIMENT.yaml: validate every run first (nothing trains if any run's
// configuration is bad), then train, evaluate and write one results file per run, and
// print a comparison table.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "cli/progress.h"
#include "cli/run_preflight.h"
#include "cli/table.h"
#include "io/existing_result.h"
#include "io/results.h"
#include "io/temp_files.h"
#include "model/memory_estimate.h"
#include "train/checkpoint.h"
#include "train/run.h"

namespace poslab::cli {

namespace {

std::string results_path(const std::string& dir, const std::string& run_name) {
  return (std::filesystem::path(dir) / (run_name + ".h5")).string();
}

void print_comparison(const std::vector<RunRecord>& records) {
  const bool any_variants = std::any_of(records.begin(), records.end(),
                                        [](const RunRecord& r) { return !r.eval_variants.empty(); });
  std::vector<std::string> header = {"run", "encoder", "length", "loss", "token_acc", "exact_match"};
  if (any_variants) header.insert(header.begin() + 2, "variant");
  TextTable table(header);
  for (const auto& r : records) {
    std::vector<const EvalSeries*> series = {&r.eval};
    for (const auto& v : r.eval_variants) series.push_back(&v);
    for (const EvalSeries* e : series)
      for (std::size_t i = 0; i < e->length.size(); ++i) {
        std::vector<std::string> row = {r.run_name, r.encoder, std::to_string(int(e->length[i])),
                                        fixed(e->loss[i], 4), fixed(e->token_accuracy[i], 4),
                                        fixed(e->exact_match[i], 4)};
        if (any_variants) row.insert(row.begin() + 2, e->variant.empty() ? "-" : e->variant);
        table.add(row);
      }
  }
  std::cout << "\n";
  table.print(std::cout);
}

// SIGINT/SIGTERM: the training loop finishes its step, writes a checkpoint and stops. A
// second signal ends the process at once, removing any temporary file being written.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int sig) {
  if (g_stop_signal == 0) {
    g_stop_signal = sig;
    return;
  }
  remove_live_temp_files();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  po::options_description options("poslab run options");
  std::string experiment, out_dir;
  std::vector<std::string> overrides;
  int threads = 0;
  options.add_options()
      ("experiment", po::value(&experiment)->required(), "experiment YAML file")
      ("set", po::value(&overrides)->composing(), "override a key: --set model.d_model=128")
      ("out", po::value(&out_dir), "results folder (default: output.dir of the experiment)")
      ("threads", po::value(&threads)->default_value(0),
       ("OpenMP threads (0 = all cores, at most " + std::to_string(kMaxThreads) + ")").c_str())
      ("only", po::value<std::vector<std::string>>()->composing(), "run only the named runs")
      ("suffix", po::value<std::string>(), "append to every run's name and file name (used by sweep)")
      ("resume", po::bool_switch(), "continue interrupted runs from their checkpoints and skip "
                                    "runs whose results (same configuration) exist");
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_args("run", "poslab run EXPERIMENT.yaml [--set key=value]... [--out DIR] [--threads N]",
                  args, options, positional, vm))
    return 0;

  check_thread_count(threads);
  if (threads > 0) overrides.push_back("train.threads=" + std::to_string(threads));
  // From here on an interrupted run leaves no temporary results file behind.
  install_temp_file_cleanup();
  std::vector<RunSpec> specs = load_experiment(experiment, overrides);
  if (vm.count("only")) {
    const auto only = vm["only"].as<std::vector<std::string>>();
    std::vector<RunSpec> kept;
    for (auto& s : specs)
      if (std::find(only.begin(), only.end(), s.run_name) != only.end()) kept.push_back(s);
    if (kept.empty()) throw ConfigError(experiment + ": --only: no run has that name");
    specs = kept;
  }
  if (vm.count("suffix")) {
    const std::string suffix = vm["suffix"].as<std::string>();
    for (auto& s : specs) {
      check_suffix(suffix, s.run_name);
      s.run_name += suffix;
    }
  }
  // Validate every run (plugins, lengths, memory, output paths) before any training starts.
  const std::optional<std::size_t> available = available_memory_bytes();
  for (const auto& spec : specs) {
    // These checks' keys may be shared by every run; the message says which run failed.
    const auto naming_the_run = [&](const auto& check) {
      try {
        check();
      } catch (const ConfigError& e) {
        if (specs.size() == 1) throw;
        throw ConfigError(std::string(e.what()) + " (in run '" + spec.run_name + "')");
      }
    };
    // Parameters first: building the model allocates them.
    if (available) naming_the_run([&] { check_parameters_fit(spec, *available); });
    const PreparedRun run = prepare_run(spec);
    const ConfigNode dir_key = spec.root.child("output").child("dir");
    const std::string what = out_dir.empty() ? dir_key.file() + ": output.dir" : "--out";
    const std::string dir = out_dir.empty() ? spec.output.dir : out_dir;
    naming_the_run([&] {
      if (available) check_run_fits_in_memory(run, *available);
      check_output_dir_writable(dir, what);
      check_results_path_free(results_path(dir, spec.run_name), what);
    });
  }
  // Temp files of runs killed with SIGKILL (their PID is gone) are removed.
  std::set<std::string> dirs;
  for (const auto& spec : specs) dirs.insert(out_dir.empty() ? spec.output.dir : out_dir);
  for (const auto& dir : dirs)
    if (const int n = remove_stale_temp_files(dir); n > 0)
      std::cerr << "[poslab] removed " << n << " temporary file(s) of interrupted runs from "
                << dir << "\n";

  const bool resume = vm["resume"].as<bool>();
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  std::vector<RunRecord> records;
  std::vector<std::string> diverged;
  for (const auto& spec : specs) {
    const std::string dir = out_dir.empty() ? spec.output.dir : out_dir;
    std::filesystem::create_directories(dir);
    const std::string path = results_path(dir, spec.run_name);
    const std::string checkpoint = checkpoint_path(dir, spec.run_name);
    // The same test as sweep's: a finished run (complete or diverged) of this configuration.
    const ResultState existing =
        resume ? inspect_existing_result(path, spec.resolved_yaml).state : ResultState::missing;
    if (existing == ResultState::complete || existing == ResultState::diverged) {
      std::cerr << "[" << spec.run_name << "] done already: " << path << "\n";
      continue;
    }
    if (!resume && std::filesystem::exists(checkpoint))
      std::cerr << "[" << spec.run_name << "] note: " << checkpoint
                << " is left from an interrupted run; starting over (pass --resume to continue it)\n";
    PreparedRun run = prepare_run(spec);
    std::cerr << "[" << spec.run_name << "] task " << spec.task.name << ", encoder "
              << spec.encoder.name << ", " << run.model->params().count() << " parameters"
              << (resume && std::filesystem::exists(checkpoint) ? ", resuming from " + checkpoint : "")
              << "\n";
    ProgressPrinter printer(spec.run_name, isatty(STDERR_FILENO) != 0);
    TrainOptions options;
    options.progress = [&](const Progress& p) { printer.update(p); };
    options.checkpoint_path = checkpoint;
    options.resume = resume;
    options.stop_signal = &g_stop_signal;
    RunRecord record;
    try {
      record = train_and_evaluate(run, options);
    } catch (const TrainingInterrupted& stop) {
      printer.finish();
      std::cerr << "[" << spec.run_name << "] interrupted at step " << stop.step << "; checkpoint "
                << stop.checkpoint << "\nresume with: poslab run " << experiment
                << " --resume (with the same --set, --out, --only and --threads options)\n";
      return 128 + stop.signal_number;
    }
    printer.finish();
    write_results(path, record);
    std::filesystem::remove(checkpoint);
    std::cerr << "[" << spec.run_name << "] wrote " << path << "\n";
    if (record.status != "complete") {
      std::cerr << "[" << spec.run_name << "] diverged: " << record.status_detail
                << " (results written with status: diverged)\n";
      diverged.push_back(spec.run_name);
    }
    records.push_back(std::move(record));
    if (g_stop_signal != 0) {
      std::cerr << "interrupted after run " << spec.run_name << "; the next runs did not start "
                << "(rerun with --resume to do only those)\n";
      return 128 + g_stop_signal;
    }
  }
  print_comparison(records);
  if (!diverged.empty()) {
    std::string names;
    for (const auto& n : diverged) names += (names.empty() ? "" : ", ") + n;
    std::cerr << "poslab run: " << diverged.size() << " run(s) diverged: " << names << "\n";
    return 1;
  }
  return 0;
}

}  // namespace poslab::cli
