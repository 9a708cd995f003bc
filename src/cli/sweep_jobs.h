#pragma once
// The runs of a sweep as the sweep's processes see them: what to start, and how to judge
// a finished child. Shared by the local sweep (sweep_command.cpp) and the ranks of an MPI
// sweep (sweep_ranks.h), so that both write and judge results alike.
#include <string>
#include <vector>

namespace poslab::cli {

// One (run, grid point) of the sweep.
struct Job {
  std::string run, suffix, results, log;
  std::vector<std::string> sets;  // --set overrides for the child: the sweep's own, then the grid's
  std::string resolved_yaml;      // the configuration the child will run
  std::string point;              // "run 'x' with encoder.name=none, seed=1", for messages
  bool stale = false;             // replaces results of another configuration
};

// The threads of each child: `fixed` > 0 (sweep --threads N) is written into every run's
// train.threads (--threads N: part of the configuration, like any --set); otherwise the
// child keeps the experiment's train.threads and `share` — usable cores / (jobs · ranks on
// the machine), sys/cpu_budget.h thread_share — caps what auto chooses (--max-threads,
// not part of the configuration, so the same results are found again whatever --jobs).
struct SweepThreads {
  int fixed = 0;
  int share = 1;
};

// The `poslab run` command line of a job's child (argv[0] = this binary). --resume: a run
// interrupted earlier (SIGINT/SIGTERM wrote its checkpoint) continues where it stopped.
std::vector<std::string> child_command(const std::string& self, const std::string& experiment,
                                       const Job& job, const SweepThreads& threads);

// How a child ended, judged by its results file: the exit code alone does not decide (the
// file must be there, finished, of this configuration; a diverged run may exit 1 and still
// leave a result marked diverged).
struct JobOutcome {
  enum class Kind { finished, diverged, stopped, failed };
  Kind kind = Kind::failed;
  std::string why;  // failed or stopped: the reason ("exit code 1", ...)
};
// `status` as from waitpid; `stopping`: the sweep was asked to stop (a child killed by
// that is stopped, not failed).
JobOutcome judge_child(const std::string& results, const std::string& resolved_yaml, int status,
                       bool stopping);

std::string describe_exit(int status);

// The counts a sweep reports at the end.
struct SweepTally {
  std::size_t completed = 0, stopped = 0, stale_rerun = 0;
  std::vector<std::string> failed;    // "name (why; log path)", with the rank under MPI
  std::vector<std::string> diverged;  // results files of diverged runs, kept or new
};

// Counts a finished child in `tally` and prints its line ("[sweep] finished NAME", ...).
// `rank` is the MPI rank that ran it, named in the line and the failure; -1 in a local sweep.
void record_outcome(SweepTally& tally, const Job& job, const JobOutcome& outcome, int rank = -1);

}  // namespace poslab::cli
