// poslab: the command-line entry point. Dispatches to one subcommand per file and maps
// errors to exit codes: ConfigError (bad usage or configuration) -> 2, anything else -> 1.
#include <malloc.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "dist/world.h"
#include "io/config.h"
#include "io/results.h"
#include "sys/openmp_wait.h"

namespace {

const char* kUsage =
    "usage: poslab <command> [options]\n"
    "\n"
    "commands:\n"
    "  run EXPERIMENT.yaml [--set key=value]... [--out DIR] [--threads N]\n"
    "                         train and evaluate every run of an experiment\n"
    "  sweep EXPERIMENT.yaml [--jobs N]\n"
    "                         expand grid: into runs, in parallel processes; resumes\n"
    "  encode --encoder NAME --length L --dim D [--set key=value]... --out FILE.h5 [--force]\n"
    "                         write a scheme's position matrix (or bias, angles)\n"
    "  probe MATRIX [--probes NAME,...] [--set probe.option=value]... [--out FILE.h5 [--force]]\n"
    "                         run the position probes on a matrix (file.npy or file.h5:/dataset)\n"
    "  list [encoders|tasks|probes]\n                         registered plugins with their options and defaults\n"
    "  report RESULTS... [--format table|markdown|csv] [--metrics ...] [--probes probe.metric,...]\n"
    "                         comparison table of results files or folders (mean ± sd over seeds)\n"
    "  bench [options]        training throughput, GFLOP/s and peak memory\n"
    "\n"
    "  under mpirun/srun:     run trains each run data parallel over the ranks, sweep spreads\n"
    "                         its runs over them, bench measures the data-parallel step\n"
    "\n"
    "  --version              print the version and commit (and whether MPI is compiled in)\n"
    "  <command> --help       options of a command\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace poslab::cli;
  // Before anything else: idle OpenMP threads sleep instead of spinning unless the user
  // chose otherwise (sys/openmp_wait.h: why, and why it takes a re-exec).
  poslab::reexec_with_passive_openmp_wait(argv);
  // Eigen's GEMM allocates its packing buffers on every call; above glibc's default mmap
  // threshold each allocation is a fresh mmap whose pages fault in again every step.
  // Keeping them on the heap removes that cost from the training loop.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"run", run_command}, {"encode", encode_command}, {"list", list_command},
      {"bench", bench_command}, {"probe", probe_command}, {"report", report_command}, {"sweep", sweep_command}};
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    const std::string commit = poslab::build_git_commit();
    std::cout << "poslab " << POSLAB_VERSION << (commit.empty() ? "" : " (commit " + commit + ")")
              << "\n"
              << (poslab::dist::mpi_compiled_in()
                      ? "MPI: compiled in (" + poslab::dist::mpi_library_version() + ")"
                      : std::string("MPI: not compiled in"))
              << "\n"
              << "OpenMP waiting: " << poslab::openmp_wait_description() << "\n";
    return 0;
  }
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::cerr << "poslab: unknown command '" << command << "'; expected one of run, encode, "
                                                           "sweep, probe, report, list, bench (see poslab --help)\n";
    return 2;
  }
  // Starts MPI only under an MPI launcher (dist/world.h); `run`, `sweep` and `bench` use
  // it, the other commands refuse more than one rank.
  poslab::dist::WorldSession mpi(argc, argv);
  poslab::dist::Communicator& world = poslab::dist::world();
  // An error on one rank of several: the others may be waiting for it in a collective, so
  // the whole job ends here (commands agree on failures they can foresee before that).
  const auto fail = [&](const std::string& message, int code) -> int {
    if (world.size() > 1) {
      std::cerr << message << " (rank " << world.rank() << " of " << world.size() << ")\n";
      world.abort(code);  // does not return
    }
    std::cerr << message << "\n";
    return code;
  };
  try {
    if (world.size() > 1 && command != "run" && command != "sweep" && command != "bench") {
      if (world.rank() == 0)
        std::cerr << "error: poslab " << command << " runs as one process; start it without "
                  << "mpirun (only run, sweep and bench use MPI ranks)\n";
      return 2;
    }
    return it->second(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const poslab::ConfigError& e) {
    return fail(std::string("error: ") + e.what(), 2);
  } catch (const std::exception& e) {
    return fail("poslab " + command + ": " + e.what(), 1);
  }
}
