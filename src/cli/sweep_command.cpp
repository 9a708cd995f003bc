// poslab sweep EXPERIMENT.yaml [--jobs N]: expands the experiment's `grid:` — a mapping
// from key paths to lists of values, e.g.
//     grid:
//       encoder.name: [none, learned, rope]
//       seed: [1, 2, 3]
// — into the cartesian product of `--set` overrides, applied to every run of the
// experiment. Each (run, combination) is one `poslab run` child process writing
// <output.dir>/<run>__<key>-<value>....h5; up to --jobs run at once. Every combination is
// validated before anything starts, and a run whose complete results file already exists
// is skipped, so an interrupted sweep resumes where it stopped.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "io/results.h"
#include "train/run.h"

extern char** environ;

namespace poslab::cli {

namespace {

namespace fs = std::filesystem;

struct GridAxis {
  std::string key;                  // e.g. "encoder.name"
  std::vector<std::string> values;  // YAML text of each value
};

std::vector<GridAxis> read_grid(const ConfigNode& grid) {
  std::vector<GridAxis> axes;
  if (!grid.yaml().IsDefined() || grid.yaml().IsNull()) return axes;
  for (const auto& key : grid.keys()) {
    const ConfigNode values = grid.child(key);
    GridAxis axis{key, {}};
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
  return axes;
}

// "encoder.name" + "learned" -> "name-learned"; anything but [A-Za-z0-9.-] becomes '-'.
std::string label(const std::string& key, const std::string& value) {
  std::string s = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1) + "-" + value;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '-';
  return s;
}

struct Job {
  std::string run, suffix, results, log;
  std::vector<std::string> sets;
};

bool complete(const std::string& path) {
  if (!fs::exists(path)) return false;
  try {
    check_results_schema(path);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  po::options_description options("poslab sweep options");
  std::string experiment, out_dir;
  std::vector<std::string> cli_sets;
  int jobs = 1, threads = 0;
  bool dry_run = false;
  options.add_options()
      ("experiment", po::value(&experiment)->required(), "experiment YAML file with a grid:")
      ("jobs", po::value(&jobs)->default_value(1), "runs in parallel (separate processes)")
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads per run (0 = cores / jobs)")
      ("set", po::value(&cli_sets)->composing(), "override a key for every run")
      ("out", po::value(&out_dir), "results folder (default: output.dir of the experiment)")
      ("dry-run", po::bool_switch(&dry_run), "list the runs and whether they are done, run nothing");
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_args("sweep", "poslab sweep EXPERIMENT.yaml [--jobs N] [--set key=value]... [--out DIR]",
                  args, options, positional, vm))
    return 0;
  if (jobs < 1) throw ConfigError("poslab sweep: --jobs: expected an integer >= 1");
  if (threads <= 0) threads = std::max(1, int(std::thread::hardware_concurrency()) / jobs);

  const auto base = load_experiment(experiment, cli_sets);
  const auto axes = read_grid(base.front().root.child("grid"));

  // Cartesian product of the axes, each combination validated in full before any run.
  std::vector<Job> all;
  std::vector<std::size_t> index(axes.size(), 0);
  while (true) {
    std::vector<std::string> sets = cli_sets;
    std::string suffix;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      sets.push_back(axes[a].key + "=" + axes[a].values[index[a]]);
      suffix += "__" + label(axes[a].key, axes[a].values[index[a]]);
    }
    for (const auto& spec : load_experiment(experiment, sets)) {
      prepare_run(spec);
      const std::string dir = out_dir.empty() ? spec.output.dir : out_dir;
      const std::string name = spec.run_name + suffix;
      all.push_back({spec.run_name, suffix, (fs::path(dir) / (name + ".h5")).string(),
                     (fs::path(dir) / (name + ".log")).string(), sets});
    }
    std::size_t a = 0;
    while (a < axes.size() && ++index[a] == axes[a].values.size()) index[a++] = 0;
    if (a == axes.size()) break;
  }

  std::vector<Job> todo;
  for (const auto& job : all) {
    if (complete(job.results)) {
      std::cerr << "[sweep] done already: " << job.results << "\n";
    } else {
      todo.push_back(job);
    }
  }
  std::cerr << "[sweep] " << all.size() << " runs, " << todo.size() << " to do, " << jobs
            << " at a time, " << threads << " threads each\n";
  if (dry_run) {
    for (const auto& job : todo) std::cout << job.results << "\n";
    return 0;
  }

  const std::string self = fs::canonical("/proc/self/exe").string();
  std::map<pid_t, Job> running;
  std::size_t next = 0;
  int failures = 0;
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && running.size() < std::size_t(jobs)) {
      const Job& job = todo[next++];
      fs::create_directories(fs::path(job.results).parent_path());
      std::vector<std::string> argv = {self, "run", experiment, "--only", job.run, "--suffix",
                                       job.suffix, "--out", fs::path(job.results).parent_path().string(),
                                       "--threads", std::to_string(threads)};
      for (const auto& s : job.sets) {
        argv.push_back("--set");
        argv.push_back(s);
      }
      running[spawn(argv, job.log)] = job;
      std::cerr << "[sweep] started " << job.run << job.suffix << " (log " << job.log << ")\n";
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::cerr << "[sweep] " << (ok ? "finished " : "FAILED ") << it->second.run << it->second.suffix
              << (ok ? "" : " (see " + it->second.log + ")") << "\n";
    failures += ok ? 0 : 1;
    running.erase(it);
  }
  std::cerr << "[sweep] " << (todo.size() - failures) << " of " << todo.size() << " runs completed\n";
  return failures ? 1 : 0;
}

}  // namespace poslab::cli
