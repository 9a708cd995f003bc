#pragma once
// Implemented twice: mpi_backend_mpi.cpp when CMake found MPI (POSLAB_MPI=ON), else
// mpi_backend_none.cpp. CMake compiles exactly one of them; nothing else includes mpi.h.
#include <memory>
#include <string>

#include "dist/communicator.h"

namespace poslab::dist {

bool mpi_compiled_in();
std::string mpi_library_version();
// MPI_Init_thread (funneled: only the main thread calls MPI; OpenMP threads compute) and
// the world communicator; finalizes MPI when destroyed.
std::unique_ptr<Communicator> start_mpi(int& argc, char**& argv);

}  // namespace poslab::dist
