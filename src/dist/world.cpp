#include "dist/world.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "dist/mpi_backend.h"

namespace poslab::dist {

namespace {
SingleProcess g_single;
// Set while a WorldSession has MPI running; world() falls back to g_single otherwise.
std::unique_ptr<Communicator> g_mpi;

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}
}  // namespace

bool launched_by_mpi() {
  const char* opt = std::getenv("POSLAB_MPI");
  if (opt != nullptr && std::string(opt) == "0") return false;
  // Open MPI's mpirun, PMIx launchers (Open MPI 5, Slurm srun --mpi=pmix), and PMI-1/2
  // launchers (MPICH's mpiexec, srun --mpi=pmi2).
  return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_SIZE") ||
         env_set("PMI_RANK");
}

WorldSession::WorldSession(int& argc, char**& argv) {
  if (!mpi_compiled_in() || !launched_by_mpi()) return;
  g_mpi = start_mpi(argc, argv);
  // Processes started from here on (sweep children) are not ranks of this job.
  ::setenv("POSLAB_MPI", "0", 1);
  ::setenv("POSLAB_MPI_PARENT_RANK", std::to_string(g_mpi->rank()).c_str(), 1);
}

WorldSession::~WorldSession() {
  if (!g_mpi) return;
  g_mpi.reset();  // its destructor finalizes MPI
}

bool started_by_mpi_rank() { return env_set("POSLAB_MPI_PARENT_RANK"); }

Communicator& world() { return g_mpi ? *g_mpi : static_cast<Communicator&>(g_single); }

}  // namespace poslab::dist
