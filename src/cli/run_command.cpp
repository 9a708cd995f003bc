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
#include "dist/collectives.h"
#include "dist/world.h"
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


// This process's stop signal, or with several ranks one that any rank saw (its number
// where seen here, else SIGTERM): every rank gets a non-zero answer if any rank was asked.
int agreed_stop_signal(dist::Communicator& world, int local) {
  if (world.size() == 1) return local;
  double stop = local != 0 ? 1 : 0;
  std::vector<double> scratch;
  dist::sum_in_rank_order(world, &stop, 1, scratch);
  return local != 0 ? local : (stop > 0 ? SIGTERM : 0);
}

// What the command line asks for, validated: the runs to make and where.
struct RunPlan {
  bool help_shown = false;
  std::string experiment, out_dir;
  std::vector<RunSpec> specs;
  bool resume = false;
  int max_threads = 0;  // --max-threads: cap of train.threads auto (TrainOptions::max_threads)
};

// Parses the arguments and validates every run (plugins, lengths, memory, output paths)
// before any training starts. Throws ConfigError on bad input.
RunPlan plan_runs(const std::vector<std::string>& args, dist::Communicator& world) {
  RunPlan plan;
  po::options_description options("poslab run options");
  std::string& experiment = plan.experiment;
  std::string& out_dir = plan.out_dir;
  std::vector<std::string> overrides;
  int threads = 0;
  options.add_options()
      ("experiment", po::value(&experiment)->required(), "experiment YAML file")
      ("set", po::value(&overrides)->composing(), "override a key: --set model.d_model=128")
      ("out", po::value(&out_dir), "results folder (default: output.dir of the experiment)")
      ("threads", po::value(&threads)->default_value(0),
       ("OpenMP threads: sets train.threads (0 = keep the experiment's, default auto; at most " +
        std::to_string(kMaxThreads) + ")").c_str())
      ("max-threads", po::value(&plan.max_threads)->default_value(0),
       "train.threads auto uses at most this many (0 = no cap; poslab sweep --jobs sets it); "
       "not part of the configuration")
      ("only", po::value<std::vector<std::string>>()->composing(), "run only the named runs")
      ("suffix", po::value<std::string>(), "append to every run's name and file name (used by sweep)")
      ("resume", po::bool_switch(), "continue interrupted runs from their checkpoints and skip "
                                    "runs whose results (same configuration) exist");
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_args("run", "poslab run EXPERIMENT.yaml [--set key=value]... [--out DIR] [--threads N]",
                  args, options, positional, vm)) {
    plan.help_shown = true;
    return plan;
  }

  check_thread_count(threads);
  if (plan.max_threads < 0 || plan.max_threads > kMaxThreads)
    throw ConfigError("--max-threads: expected an integer between 0 and " + std::to_string(kMaxThreads) +
                      ", got " + std::to_string(plan.max_threads));
  if (threads > 0) overrides.push_back("train.threads=" + std::to_string(threads));
  // From here on an interrupted run leaves no temporary results file behind.
  install_temp_file_cleanup();
  std::vector<RunSpec>& specs = plan.specs;
  specs = load_experiment(experiment, overrides);
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
    // Data parallel: each rank's share of the batch is cut into micro batches.
    const int blocks = world.size() * spec.train.micro_batches;
    if (spec.train.batch_size % blocks != 0)
      naming_the_run([&] {
        spec.root.child("train").child("batch_size").fail(
            "expected a multiple of " + std::to_string(world.size()) + " MPI ranks x train.micro_batches " +
            std::to_string(spec.train.micro_batches) + " = " + std::to_string(blocks) + ", got " +
            std::to_string(spec.train.batch_size));
      });
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
  plan.resume = vm["resume"].as<bool>();
  return plan;
}

// Temp files of runs killed with SIGKILL (their PID is gone) are removed.
void remove_stale_temp_files_of(const RunPlan& plan) {
  std::set<std::string> dirs;
  for (const auto& spec : plan.specs) dirs.insert(plan.out_dir.empty() ? spec.output.dir : plan.out_dir);
  for (const auto& dir : dirs)
    if (const int n = remove_stale_temp_files(dir); n > 0)
      std::cerr << "[poslab] removed " << n << " temporary file(s) of interrupted runs from "
                << dir << "\n";
}

// With MPI ranks: every rank plans; a rank that fails (e.g. a file it cannot read) ends
// them all with one message from rank 0, instead of leaving the others waiting for it.
// The ranks must also have been given the same runs.
std::optional<int> plan_on_every_rank(const std::vector<std::string>& args, dist::Communicator& world,
                                      RunPlan& plan) {
  std::string failure;
  bool config_error = false;
  try {
    plan = plan_runs(args, world);
  } catch (const ConfigError& e) {
    failure = e.what();
    config_error = true;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const dist::Agreement verdict = dist::agree(world, failure);
  if (!verdict.failure.empty()) {
    if (world.rank() == 0)
      std::cerr << "error: poslab run on " << world.size() << " MPI ranks: " << verdict.failure
                << "; no rank ran\n";
    // The same configuration error on every rank is a usage error, as without MPI.
    return verdict.all_failed && config_error ? 2 : 1;
  }
  std::string all_configs;
  for (const auto& spec : plan.specs) all_configs += spec.run_name + "\n" + spec.resolved_yaml + "\n";
  if (!dist::same_on_all_ranks(world, all_configs.data(), all_configs.size())) {
    if (world.rank() == 0)
      std::cerr << "error: poslab run on " << world.size() << " MPI ranks: the ranks were given "
                << "different runs or configurations; start every rank with the same arguments\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  dist::Communicator& world = dist::world();
  const bool lead = world.rank() == 0;  // prints, writes results and checkpoints
  RunPlan plan;
  if (world.size() == 1) {
    plan = plan_runs(args, world);
  } else if (const std::optional<int> failed = plan_on_every_rank(args, world, plan)) {
    return *failed;
  }
  if (plan.help_shown) return 0;
  if (lead && !dist::started_by_mpi_rank()) remove_stale_temp_files_of(plan);
  const std::string& experiment = plan.experiment;
  const std::string& out_dir = plan.out_dir;
  const std::vector<RunSpec>& specs = plan.specs;
  const bool resume = plan.resume;
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
    // Rank 0 decides for all (ranks on other machines may see the file a moment later).
    int existing = int(resume && lead ? inspect_existing_result(path, spec.resolved_yaml).state
                                      : ResultState::missing);
    world.broadcast(&existing, sizeof existing, 0);
    if (existing == int(ResultState::complete) || existing == int(ResultState::diverged)) {
      if (lead) std::cerr << "[" << spec.run_name << "] done already: " << path << "\n";
      continue;
    }
    if (lead && !resume && std::filesystem::exists(checkpoint))
      std::cerr << "[" << spec.run_name << "] note: " << checkpoint
                << " is left from an interrupted run; starting over (pass --resume to continue it)\n";
    PreparedRun run = prepare_run(spec);
    if (lead)
      std::cerr << "[" << spec.run_name << "] task " << spec.task.name << ", encoder "
                << spec.encoder.name << ", " << run.model->params().count() << " parameters"
                << (resume && std::filesystem::exists(checkpoint) ? ", resuming from " + checkpoint : "")
                << (world.size() > 1 ? ", data parallel on " + world.describe() : "") << "\n";
    ProgressPrinter printer(spec.run_name, lead && isatty(STDERR_FILENO) != 0);
    TrainOptions options;
    if (lead) options.progress = [&](const Progress& p) { printer.update(p); };
    options.checkpoint_path = checkpoint;
    options.resume = resume;
    options.stop_signal = &g_stop_signal;
    options.max_threads = plan.max_threads;
    RunRecord record;
    try {
      record = train_and_evaluate(run, options);
    } catch (const RanksFailed& failed) {
      if (lead) std::cerr << "error: poslab run on " << world.size() << " MPI ranks: " << failed.what() << "\n";
      return failed.exit_code;
    } catch (const TrainingInterrupted& stop) {
      printer.finish();
      if (lead)
        std::cerr << "[" << spec.run_name << "] interrupted at step " << stop.step << "; checkpoint "
                  << stop.checkpoint << "\nresume with: poslab run " << experiment
                  << " --resume (with the same --set, --out, --only and --threads options)\n";
      return 128 + stop.signal_number;
    }
    printer.finish();
    // A signal some rank saw during evaluation: all ranks stop after this run.
    const int stop_signal = agreed_stop_signal(world, g_stop_signal);
    if (!lead) {
      if (stop_signal != 0) return 128 + stop_signal;
      continue;  // rank 0 writes the results and reports
    }
    write_results(path, record);
    std::filesystem::remove(checkpoint);
    std::cerr << "[" << spec.run_name << "] wrote " << path << "\n";
    if (record.status != "complete") {
      std::cerr << "[" << spec.run_name << "] diverged: " << record.status_detail
                << " (results written with status: diverged)\n";
      diverged.push_back(spec.run_name);
    }
    records.push_back(std::move(record));
    if (stop_signal != 0) {
      std::cerr << "interrupted after run " << spec.run_name << "; the next runs did not start "
                << "(rerun with --resume to do only those)\n";
      return 128 + stop_signal;
    }
  }
  if (!lead) return 0;
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
