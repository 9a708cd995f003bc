#pragma once
// The process-wide communicator. main() opens a WorldSession; it starts MPI only when MPI
// is compiled in AND this process was started by an MPI launcher (mpirun, mpiexec, srun:
// their environment says so) AND POSLAB_MPI is not "0". Otherwise world() is the
// single-process communicator and poslab behaves exactly as without MPI.
//
// Processes that an MPI rank starts (the sweep's `poslab run` children) inherit the
// launcher's environment; the session sets POSLAB_MPI=0 for them, so that they run on
// their own instead of trying to join the job (and POSLAB_MPI_PARENT_RANK to the rank).
#include <string>

#include "dist/communicator.h"

namespace poslab::dist {

class WorldSession {
 public:
  WorldSession(int& argc, char**& argv);
  ~WorldSession();  // MPI_Finalize if MPI was started
  WorldSession(const WorldSession&) = delete;
  WorldSession& operator=(const WorldSession&) = delete;
};

// The communicator of this process: MPI's world under a launcher, else SingleProcess.
Communicator& world();

// Whether this binary was built with MPI, and which library ("" without).
bool mpi_compiled_in();
std::string mpi_library_version();

// Whether the environment says an MPI launcher started this process (and POSLAB_MPI != 0).
bool launched_by_mpi();

// Whether a rank of an MPI job started this process (a sweep's `poslab run` child): its
// results folder may be shared with other machines, whose process IDs it cannot judge
// (so it leaves temp files of other processes alone; rank 0 tidied before starting it).
bool started_by_mpi_rank();

}  // namespace poslab::dist
