// The backend of a build without MPI: poslab is always a single process.
#include <stdexcept>

#include "dist/mpi_backend.h"

namespace poslab::dist {

bool mpi_compiled_in() { return false; }
std::string mpi_library_version() { return ""; }
std::unique_ptr<Communicator> start_mpi(int&, char**&) {
  throw std::logic_error("start_mpi: this poslab was built without MPI");
}

}  // namespace poslab::dist
