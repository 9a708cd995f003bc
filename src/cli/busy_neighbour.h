#pragma once
// A busy neighbour for `poslab bench --contention`: a child process that spins on one core
// (pinned nowhere, default priority) for as long as this object lives — what a
// colleague's job or a compile does to a shared machine. The child dies with this process
// (PR_SET_PDEATHSIG) if the bench is killed, and is SIGKILLed and reaped on destruction.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace poslab::cli {

class BusyNeighbour {
 public:
  BusyNeighbour() {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("poslab bench --contention: fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls after fork in a multithreaded process: prctl and a loop.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      volatile unsigned long spin = 0;
      for (;;) spin = spin + 1;
    }
  }
  ~BusyNeighbour() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  BusyNeighbour(const BusyNeighbour&) = delete;
  BusyNeighbour& operator=(const BusyNeighbour&) = delete;

 private:
  pid_t pid_ = -1;
};

}  // namespace poslab::cli
