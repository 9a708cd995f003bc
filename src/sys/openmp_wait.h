#pragma once
// How idle OpenMP threads wait: poslab's default is passive (sleep at once), unless the
// user chose with OMP_WAIT_POLICY or GOMP_SPINCOUNT.
//
// Why: libgomp's default spins up to 300,000 iterations at every barrier and at the end
// of every parallel region before it sleeps. On a machine of its own that saves a futex
// wake-up; on a shared one a spinning thread holds a core the thread it waits for (or a
// neighbour) needs. Measured on the 2-core AMD EPYC (docs/design.md, "Threads"): the
// 2-thread determinism test took 33 s with the default and 8.4 s passive beside two busy
// processes, the same 0.6 s of CPU either way.
//
// Why a re-exec: libgomp reads its environment once, in a constructor that runs before
// main(), and has no call to change the wait policy afterwards. So the CLI's main() sets
// OMP_WAIT_POLICY=passive and execs itself (same pid, arguments and environment
// otherwise; under mpirun/srun before MPI_Init, so the launcher sees the same process).
// Libraries embedding poslab keep whatever their process chose.
#include <string>

namespace poslab {

// If neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is in the environment (a value of ""
// counts as present: the user said something): set OMP_WAIT_POLICY=passive and
// POSLAB_WAIT_DEFAULTED=1, then exec /proc/self/exe with argv. Returns only when no
// exec was needed or it failed (then the process runs on with libgomp's default).
void reexec_with_passive_openmp_wait(char** argv);

// How OpenMP threads of this process wait, for logs and benchmarks:
// "OMP_WAIT_POLICY=passive (poslab default)", "OMP_WAIT_POLICY=active",
// "GOMP_SPINCOUNT=1000", or "OpenMP default (spin, then sleep)".
std::string openmp_wait_description();

}  // namespace poslab
