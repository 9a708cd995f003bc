#pragma once
// `mpirun -np N poslab sweep`: the runs of a sweep spread over MPI ranks.
//
// Rank 0 does everything a local sweep does before starting runs (expands and validates
// the grid, locks the results folders, skips finished results) and then hands the runs
// out one at a time: to itself and to any rank that reports a free slot, so long and
// short runs balance. Every rank starts its runs as `poslab run` children exactly as a
// local sweep does (same command line, same log and results paths on the shared disk,
// up to --jobs at once), judges each finished child by its results file, and reports
// the outcome to rank 0, which prints one line per run (with the rank) and the summary.
// A failed run is reported with its rank and log and does not stop the others.
//
// Messages (tags): a worker sends REQUEST when it has a free slot and rank 0 answers RUN
// (a run, or none left); the worker sends RESULT per finished run and DONE when it has
// nothing left. Rank 0 opens the exchange with START (the worker's --jobs) or SHUTDOWN
// (it stopped before handing anything out: bad input, --help, --dry-run).
#include <string>
#include <vector>

#include "cli/sweep_jobs.h"
#include "dist/communicator.h"

namespace poslab::cli {

// Rank 0's promise to the other ranks: they wait for START or SHUTDOWN; this sends
// SHUTDOWN when it is destroyed unless the runs were handed out.
class SweepWorkersRelease {
 public:
  explicit SweepWorkersRelease(dist::Communicator& world) : world_(world) {}
  ~SweepWorkersRelease();
  SweepWorkersRelease(const SweepWorkersRelease&) = delete;
  SweepWorkersRelease& operator=(const SweepWorkersRelease&) = delete;
  void start(int jobs_per_rank);  // sends START to every other rank
  bool started() const { return started_; }

 private:
  dist::Communicator& world_;
  bool started_ = false;
};

// Rank 0: runs todo[i] with commands[i] (child argv) on the ranks until all are done or a
// stop signal came; fills `tally` and prints a line per run. Returns the stop signal (0).
int hand_out_sweep_runs(dist::Communicator& world, SweepWorkersRelease& release,
                        const std::vector<Job>& todo,
                        const std::vector<std::vector<std::string>>& commands,
                        std::size_t jobs_per_rank, SweepTally& tally);

// Ranks other than 0: start what rank 0 sends until it has nothing left. Returns the exit
// code of this rank (0, or 128 + signal when stopped by one).
int serve_sweep_runs(dist::Communicator& world);

}  // namespace poslab::cli
