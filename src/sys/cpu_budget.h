#pragma once
// How many OpenMP threads a run should use: `train.threads: auto` (the default) and the
// share of each `poslab sweep --jobs N` child.
//
// Two questions, kept apart so that each is a pure function tested with injected values:
//   1. How many CPUs may this process use? The smaller of its affinity mask
//      (sched_getaffinity: taskset, Slurm's cpusets, docker --cpuset-cpus) and its CPU
//      quota (cgroup v2 cpu.max "QUOTA PERIOD", or v1 cpu.cfs_quota_us / cpu.cfs_period_us:
//      docker --cpus, Kubernetes limits), rounded down: 1.5 CPUs of quota give 1 thread,
//      because a second thread would exhaust the quota early in every period and then
//      stall both threads — and a barrier-synchronised step with them — until the next.
//   2. How many of those does a step need? A step's work is its FLOPs
//      (model/step_flops.h); each thread must get at least kMinStepFlopsPerThread of them,
//      otherwise the fork/join and barrier cost of each parallel region outweighs the
//      split (and a busy neighbour on one core then stalls every barrier).
// Neither depends on the load of the machine at the moment, so the same configuration on
// the same machine (affinity and quota included) always gets the same count: thread
// counts change the rounding, and runs must be reproducible.
#include <optional>
#include <string>

namespace poslab {

// FLOPs of one training step (model/step_flops.h formula) each thread must get; below
// that a second thread is not worth it. Measured with `poslab bench` on the 2-core AMD
// EPYC (AVX-512) this laboratory runs on (learned, 4 heads, d_ff = 4·d; 1 vs 2 threads):
//   2 layers, d 64, B 32, T 17 (the default experiment, 0.34 GFLOP): 66,704 vs 66,681
//     tokens/s (load ~3 from other jobs) — nothing gained from the second thread;
//   4 layers, d 128, B 32, T 128 (the bench reference, 22.7 GFLOP): 8,678 vs 15,253
//     tokens/s, quiet — 1.76x.
// The crossover in between could not be pinned down on a quiet machine (docs/design.md,
// "Threads"); 0.5 GFLOP keeps the default experiment on one thread and gives two to
// anything a few times larger.
inline constexpr double kMinStepFlopsPerThread = 0.5e9;

// A cgroup CPU quota in CPUs (quota / period), or nullopt for "no limit".
struct CpuQuota {
  std::optional<double> cpus;
};

// cgroup v2 `cpu.max`: "max PERIOD" (no limit) or "QUOTA PERIOD" (integers, period > 0,
// quota > 0), one line. Throws std::invalid_argument with a one-line reason on anything
// else (tests; the reader below treats an unreadable or malformed file as no limit).
CpuQuota parse_cgroup_v2_cpu_max(const std::string& text);
// cgroup v1: cpu.cfs_quota_us ("-1" = no limit, else a positive integer) and
// cpu.cfs_period_us (a positive integer). Throws std::invalid_argument like the above.
CpuQuota parse_cgroup_v1_quota(const std::string& quota_text, const std::string& period_text);

// CPUs this process may use: min(affinity_cpus, floor(quota)), at least 1.
int usable_cpus(int affinity_cpus, const CpuQuota& quota);

// Threads for a step of `step_flops`: floor(step_flops / kMinStepFlopsPerThread) clamped
// to [1, cpus]. cpus < 1 counts as 1.
int auto_thread_count(double step_flops, int cpus);

// Each of `jobs` concurrent sweep children's share of `cpus`, with `ranks_per_node` MPI
// ranks sharing the machine: max(1, cpus / (jobs · ranks_per_node)).
int thread_share(int cpus, int jobs, int ranks_per_node);

// What this process may use, read from the system: sched_getaffinity and the cgroup
// quota of this process's cgroup and its ancestors (v2), or the v1 cpu controller's.
// A file that is missing or malformed counts as no limit (it is the system's, not the
// user's; a run must not fail over it). Read once per process and cached.
int system_usable_cpus();
// The parts, for `poslab bench` and diagnostics: the affinity count and the quota found.
int system_affinity_cpus();
CpuQuota system_cpu_quota();

}  // namespace poslab
