// poslab sweep EXPERIMENT.yaml [--jobs N]: expands the experiment's `grid:` — a mapping
// from key paths to lists of values, e.g.
//     grid:
//       encoder.name: [none, learned, rope]
//       seed: [1, 2, 3]
// — into the cartesian product of `--set` overrides, applied to every run of the
// experiment. Each (run, combination) is one `poslab run` child process writing
// <output.dir>/<run>__<key>-<value>....h5 (names escaped so that different values never
// share a file; io/file_name.h); up to --jobs run at once. Every combination is validated
// before anything starts, and a run whose finished results file of the same resolved
// configuration already exists is skipped (io/existing_result.h), so an interrupted sweep
// resumes where it stopped and a changed YAML or --set re-runs what it changed.
//
// One sweep per results folder at a time (a lock file in it), and SIGINT/SIGTERM stop the
// running children before the sweep exits (cli/child_processes.h).
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sys/wait.h>

#include "cli/child_processes.h"
#include "cli/commands.h"
#include "cli/options_util.h"
#include "cli/sweep_jobs.h"
#include "cli/sweep_ranks.h"
#include "dist/world.h"
#include "io/existing_result.h"
#include "io/file_lock.h"
#include "io/file_name.h"
#include "io/temp_files.h"
#include "sys/cpu_budget.h"
#include "train/checkpoint.h"
#include "train/run.h"

namespace poslab::cli {

namespace {

namespace fs = std::filesystem;

// Run name plus grid suffix, without ".h5": well under NAME_MAX (255) so that ".h5", ".log"
// and temporary-file endings still fit.
constexpr std::size_t kMaxNameBytes = 200;
constexpr int kMaxJobs = 1024;
const char* kLockName = ".poslab-sweep.lock";

struct GridAxis {
  std::string key;                  // e.g. "encoder.name"
  std::vector<std::string> values;  // YAML text of each value
  std::string label;                // the key as it appears in file names, e.g. "name"
};

// The last `parts` dot-separated components of `key` ("encoder.name", 1 -> "name").
std::string key_tail(const std::string& key, std::size_t parts) {
  std::size_t start = key.size();
  for (std::size_t i = 0; i < parts; ++i) {
    if (start == 0) return key;
    const std::size_t dot = key.rfind('.', start - 1);
    if (dot == std::string::npos) return key;
    start = dot;
  }
  return key.substr(start + 1);
}

// Each axis is labelled by the last component of its key, or more of it when another axis
// ends alike (task.name and encoder.name -> "task.name", "encoder.name").
void label_axes(std::vector<GridAxis>& axes) {
  for (auto& axis : axes) {
    for (std::size_t parts = 1;; ++parts) {
      axis.label = key_tail(axis.key, parts);
      bool shared = false;
      for (const auto& other : axes)
        shared = shared || (&other != &axis && key_tail(other.key, parts) == axis.label);
      if (!shared || axis.label == axis.key) break;
    }
  }
}

std::vector<GridAxis> read_grid(const ConfigNode& grid) {
  std::vector<GridAxis> axes;
  if (!grid.yaml().IsDefined() || grid.yaml().IsNull()) return axes;
  for (const auto& key : grid.keys()) {
    const ConfigNode values = grid.child(key);
    GridAxis axis{key, {}, ""};
    auto text = [](const YAML::Node& n) {
      YAML::Emitter e;
      e << YAML::Flow << n;
      return std::string(e.c_str());
    };
    if (values.yaml().IsSequence()) {
      for (const auto& v : values.yaml()) axis.values.push_back(text(v));
    } else {
      axis.values.push_back(text(values.yaml()));
    }
    if (axis.values.empty()) values.fail("expected a non-empty list of values");
    axes.push_back(std::move(axis));
  }
  label_axes(axes);
  return axes;
}

// Every (run, grid point), validated, each with a results path no other job shares.
std::vector<Job> expand(const std::string& experiment, const std::vector<std::string>& cli_sets,
                        const std::vector<GridAxis>& axes, int threads, const std::string& out_dir) {
  std::vector<Job> jobs;
  std::map<std::string, std::string> point_of_path;
  std::vector<std::size_t> index(axes.size(), 0);
  while (true) {
    std::vector<std::string> sets = cli_sets;
    std::string suffix, values;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const std::string& value = axes[a].values[index[a]];
      sets.push_back(axes[a].key + "=" + value);
      suffix += "__" + encode_file_name_component(axes[a].label) + "-" + encode_file_name_component(value);
      values += (a ? ", " : " with ") + axes[a].key + "=" + value;
    }
    // The child adds its --threads (if any) last (run_command); so does this, so that the
    // resolved configuration here is the one its results file will hold.
    std::vector<std::string> child_overrides = sets;
    if (threads > 0) child_overrides.push_back("train.threads=" + std::to_string(threads));
    for (const auto& spec : load_experiment(experiment, child_overrides)) {
      prepare_run(spec);
      const std::string dir = out_dir.empty() ? spec.output.dir : out_dir;
      const std::string run_suffix = bounded_suffix(spec.run_name, suffix, kMaxNameBytes);
      const std::string name = spec.run_name + run_suffix;
      Job job{spec.run_name, run_suffix, (fs::path(dir) / (name + ".h5")).string(),
              (fs::path(dir) / (name + ".log")).string(), sets, spec.resolved_yaml,
              "run '" + spec.run_name + "'" + values};
      const auto [it, fresh] = point_of_path.emplace(fs::weakly_canonical(job.results).string(), job.point);
      if (!fresh)
        throw ConfigError(experiment + ": grid: " + it->second + " and " + job.point +
                          " would both write " + job.results + "; make the values (or run names) distinct");
      jobs.push_back(std::move(job));
    }
    std::size_t a = 0;
    while (a < axes.size() && ++index[a] == axes[a].values.size()) index[a++] = 0;
    if (a == axes.size()) break;
  }
  return jobs;
}

// One lock per results folder, held until the sweep exits; a second sweep there stops at once.
std::vector<std::unique_ptr<ExclusiveFileLock>> lock_folders(const std::vector<Job>& jobs) {
  std::set<std::string> folders;
  for (const auto& job : jobs) folders.insert(fs::path(job.results).parent_path().string());
  std::vector<std::unique_ptr<ExclusiveFileLock>> locks;
  for (const auto& folder : folders) {
    fs::create_directories(folder);
    auto lock = std::make_unique<ExclusiveFileLock>((fs::path(folder) / kLockName).string());
    if (!lock->try_lock()) {
      const pid_t holder = lock->recorded_holder();
      throw ConfigError(lock->path() + ": another poslab sweep" +
                        (holder ? " (PID " + std::to_string(holder) + ")" : std::string()) +
                        " is writing to this folder; wait for it to end or stop it");
    }
    locks.push_back(std::move(lock));
  }
  return locks;
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Runs start with --resume: a checkpoint of exactly this run (same configuration and poslab
// build) is continued; any other checkpoint at its path is stale and removed, so the run
// starts over instead of being refused.
void keep_or_remove_checkpoint(const Job& job) {
  const fs::path results(job.results);
  const std::string ckpt = checkpoint_path(results.parent_path().string(), results.stem().string());
  if (!fs::exists(ckpt)) return;
  std::string why;
  try {
    why = checkpoint_mismatch(ckpt, job.resolved_yaml);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (why.empty()) {
    std::cerr << "[sweep] will resume from " << ckpt << "\n";
    return;
  }
  std::cerr << "[sweep] stale checkpoint removed (" << why << "): " << ckpt << "\n";
  fs::remove(ckpt);
}

}  // namespace

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::vector<std::string> child_command(const std::string& self, const std::string& experiment,
                                       const Job& job, const SweepThreads& threads) {
  std::vector<std::string> argv = {self, "run", experiment, "--only", job.run, "--suffix",
                                   job.suffix, "--out", fs::path(job.results).parent_path().string()};
  if (threads.fixed > 0) {
    argv.insert(argv.end(), {"--threads", std::to_string(threads.fixed)});
  } else {
    argv.insert(argv.end(), {"--max-threads", std::to_string(threads.share)});
  }
  argv.push_back("--resume");
  for (const auto& s : job.sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  return argv;
}

JobOutcome judge_child(const std::string& results, const std::string& resolved_yaml, int status,
                       bool stopping) {
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const ExistingResult written = inspect_existing_result(results, resolved_yaml);
  if (written.state == ResultState::complete) return {JobOutcome::Kind::finished, ""};
  if (written.state == ResultState::diverged) return {JobOutcome::Kind::diverged, ""};
  if (stopping && !exited_ok) return {JobOutcome::Kind::stopped, describe_exit(status)};
  return {JobOutcome::Kind::failed,
          exited_ok ? "exit code 0 but its results file is " +
                          (written.state == ResultState::missing ? "missing" : "not usable: " + written.reason)
                    : describe_exit(status)};
}

void record_outcome(SweepTally& tally, const Job& job, const JobOutcome& outcome, int rank) {
  const std::string name = job.run + job.suffix;
  const std::string on = rank < 0 ? "" : " on rank " + std::to_string(rank);
  switch (outcome.kind) {
    case JobOutcome::Kind::finished:
    case JobOutcome::Kind::diverged:
      ++tally.completed;
      tally.stale_rerun += job.stale ? 1 : 0;
      if (outcome.kind == JobOutcome::Kind::diverged) tally.diverged.push_back(job.results);
      std::cerr << "[sweep] finished " << name << on
                << (outcome.kind == JobOutcome::Kind::diverged ? " (diverged)" : "") << "\n";
      break;
    case JobOutcome::Kind::stopped:
      ++tally.stopped;
      std::cerr << "[sweep] stopped " << name << on << " (" << outcome.why << ")\n";
      break;
    case JobOutcome::Kind::failed:
      tally.failed.push_back(name + " (" + (rank < 0 ? "" : "rank " + std::to_string(rank) + ", ") +
                             outcome.why + "; log " + job.log + ")");
      std::cerr << "[sweep] FAILED " << name << on << " (" << outcome.why << "; see " << job.log << ")\n";
      break;
  }
}

namespace {

int sweep(const std::vector<std::string>& args, dist::Communicator& world,
          SweepWorkersRelease& release_workers) {
  po::options_description options("poslab sweep options");
  std::string experiment, out_dir;
  std::vector<std::string> cli_sets;
  int jobs = 1, threads = 0;
  bool dry_run = false;
  options.add_options()
      ("experiment", po::value(&experiment)->required(), "experiment YAML file with a grid:")
      ("jobs", po::value(&jobs)->default_value(1), "runs in parallel (separate processes)")
      ("threads", po::value(&threads)->default_value(0),
       "OpenMP threads per run, written into each run's train.threads (0 = keep the experiment's: "
       "auto chooses at most usable cores / jobs)")
      ("set", po::value(&cli_sets)->composing(), "override a key for every run")
      ("out", po::value(&out_dir), "results folder (default: output.dir of the experiment)")
      ("dry-run", po::bool_switch(&dry_run), "list the runs and whether they are done, run nothing");
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_args("sweep", "poslab sweep EXPERIMENT.yaml [--jobs N] [--set key=value]... [--out DIR]",
                  args, options, positional, vm))
    return 0;
  if (jobs < 1 || jobs > kMaxJobs)
    throw ConfigError("poslab sweep: --jobs: expected an integer from 1 to " + std::to_string(kMaxJobs));
  if (threads < 0 || threads > kMaxThreads)
    throw ConfigError("poslab sweep: --threads: expected an integer between 0 and " +
                      std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  // The cores this process may use, shared by the runs of every rank on the machine: each
  // child's train.threads auto chooses at most its share (sys/cpu_budget.h).
  const SweepThreads child_threads{threads, thread_share(system_usable_cpus(), jobs, world.local_size())};

  const auto base = load_experiment(experiment, cli_sets);
  const auto axes = read_grid(base.front().root.child("grid"));
  const std::vector<Job> all = expand(experiment, cli_sets, axes, threads, out_dir);
  std::vector<std::unique_ptr<ExclusiveFileLock>> locks;
  if (!dry_run) locks = lock_folders(all);

  std::vector<Job> todo;
  std::vector<std::string> diverged;  // results files of diverged runs, kept or new
  std::size_t stale = 0;
  for (const auto& job : all) {
    const ExistingResult existing = inspect_existing_result(job.results, job.resolved_yaml);
    switch (existing.state) {
      case ResultState::complete:
        std::cerr << "[sweep] done already: " << job.results << "\n";
        continue;
      case ResultState::diverged:
        std::cerr << "[sweep] done already (diverged): " << job.results << "\n";
        diverged.push_back(job.results);
        continue;
      case ResultState::stale:
        std::cerr << "[sweep] stale, to re-run (" << existing.reason << "): " << job.results << "\n";
        ++stale;
        break;
      case ResultState::unusable:
        std::cerr << "[sweep] not a finished run's results, to re-run (" << existing.reason
                  << "): " << job.results << "\n";
        break;
      case ResultState::missing:
        break;
    }
    todo.push_back(job);
    todo.back().stale = existing.state == ResultState::stale;
    if (!dry_run) keep_or_remove_checkpoint(job);
  }
  std::cerr << "[sweep] " << all.size() << " runs, " << todo.size() << " to do"
            << (stale ? " (" + plural(stale, "stale result", "stale results") + " to re-run)" : "")
            << ", " << jobs << " at a time" << (world.size() > 1 ? " on each of " + std::to_string(world.size()) + " MPI ranks" : "")
            << ", " << (threads > 0 ? std::to_string(threads) + " threads each"
                                     : "train.threads as configured (auto: at most " +
                                           std::to_string(child_threads.share) + " each)")
            << "\n";
  if (dry_run) {
    for (const auto& job : todo) std::cout << job.results << "\n";
    return 0;
  }

  const std::string self = fs::canonical("/proc/self/exe").string();
  SweepTally tally;
  int stop_signal = 0;
  if (world.size() > 1) {
    // The runs (children of ranks on other machines too) leave temp files of other
    // processes alone; this rank tidies each folder once, before any run starts.
    std::set<std::string> folders;
    for (const auto& job : todo) folders.insert(fs::path(job.results).parent_path().string());
    for (const auto& folder : folders)
      if (const int n = remove_stale_temp_files(folder); n > 0)
        std::cerr << "[sweep] removed " << n << " temporary file(s) of interrupted runs from " << folder << "\n";
    std::vector<std::vector<std::string>> commands;
    for (const auto& job : todo) commands.push_back(child_command(self, experiment, job, child_threads));
    stop_signal = hand_out_sweep_runs(world, release_workers, todo, commands, std::size_t(jobs), tally);
  } else {
    const std::size_t parallel = std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(jobs), todo.size()));
    ChildProcesses children(parallel);
    std::map<pid_t, const Job*> running;
    std::size_t next = 0;
    while (true) {
      while (!children.stop_signal() && next < todo.size() && running.size() < parallel) {
        const Job& job = todo[next++];
        running[children.start(child_command(self, experiment, job, child_threads), job.log)] = &job;
        std::cerr << "[sweep] started " << job.run << job.suffix << " (log " << job.log << ")\n";
      }
      if (running.empty()) break;
      const auto [pid, status] = children.wait_any();
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const Job& job = *it->second;
      running.erase(it);
      record_outcome(tally, job, judge_child(job.results, job.resolved_yaml, status, children.stop_signal() != 0));
    }
    stop_signal = children.stop_signal();
  }
  const std::size_t completed = tally.completed, stale_rerun = tally.stale_rerun, stopped = tally.stopped;
  const std::vector<std::string>& failed = tally.failed;
  diverged.insert(diverged.end(), tally.diverged.begin(), tally.diverged.end());

  std::string summary = std::to_string(completed) + " of " + std::to_string(todo.size()) + " runs completed";
  if (stale_rerun) summary += ", " + plural(stale_rerun, "stale result", "stale results") + " re-run";
  if (!diverged.empty()) summary += ", " + plural(diverged.size(), "result", "results") + " of diverged runs";
  if (!failed.empty()) summary += ", " + std::to_string(failed.size()) + " failed";
  if (const int signal = stop_signal) {
    std::cerr << "[sweep] interrupted by " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ": " << summary
              << ", " << stopped << " stopped (no results written); run the same command again to resume\n";
  } else {
    std::cerr << "[sweep] " << summary << "\n";
  }
  for (const auto& f : failed) std::cerr << "[sweep] failed: " << f << "\n";
  for (const auto& d : diverged) std::cerr << "[sweep] diverged: " << d << "\n";
  if (const int signal = stop_signal) return 128 + signal;  // as a shell reports it
  return failed.empty() ? 0 : 1;
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  dist::Communicator& world = dist::world();
  if (world.size() == 1) {
    SweepWorkersRelease none(world);
    return sweep(args, world, none);
  }
  // An MPI sweep: rank 0 runs this command and hands the runs out; the other ranks start
  // the children it sends them (cli/sweep_ranks.h).
  if (world.rank() != 0) return serve_sweep_runs(world);
  SweepWorkersRelease release_workers(world);
  try {
    return sweep(args, world, release_workers);
  } catch (const std::exception& e) {
    if (release_workers.started()) throw;  // runs are out: the job must end on every rank
    // Nothing was handed out: the other ranks are told to stop (SHUTDOWN), and this rank
    // ends as a local sweep would, with one message.
    const bool config = dynamic_cast<const ConfigError*>(&e) != nullptr;
    std::cerr << (config ? "error: " : "poslab sweep: ") << e.what() << "\n";
    return config ? 2 : 1;
  }
}

}  // namespace poslab::cli
