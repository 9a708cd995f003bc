#pragma once
// The child processes of `poslab sweep`, and how SIGINT/SIGTERM stop them.
//
// While a ChildProcesses object lives, SIGINT and SIGTERM sent to this process are
// forwarded at once to every running child (from the signal handler itself, so a sweep
// blocked waiting still stops its children) and remembered in stop_signal(); the owner
// then starts nothing new and waits for the running children. Each child runs in its own
// process group, so a Ctrl-C at the terminal reaches only the sweep, which forwards it
// once, and it gets SIGTERM should the sweep die without forwarding (SIGKILL).
//
// Signal handlers can reach only global state, so the running PIDs live in one global
// table; hence at most one ChildProcesses exists at a time.
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace poslab::cli {

class ChildProcesses {
 public:
  // Installs the handlers; at most max_running children run at once.
  explicit ChildProcesses(std::size_t max_running);
  // Stops (SIGTERM) and waits for any child still running, e.g. on an exception, and
  // restores the previous handlers.
  ~ChildProcesses();
  ChildProcesses(const ChildProcesses&) = delete;
  ChildProcesses& operator=(const ChildProcesses&) = delete;

  // Starts argv (argv[0] an absolute path) with stdout and stderr to log_path (truncated)
  // and stdin from /dev/null. Throws std::runtime_error if the process cannot be created;
  // an exec failure shows up as exit status 127 with the reason in the log.
  pid_t start(const std::vector<std::string>& argv, const std::string& log_path);

  struct Exit {
    pid_t pid;
    int status;  // as from waitpid
  };
  // Blocks until a child ends and reaps it. Only call while running() > 0.
  Exit wait_any();
  // The same without blocking: nothing if no child has ended yet (for a loop that also
  // waits for MPI messages, e.g. the distributed sweep).
  std::optional<Exit> try_wait_any();

  std::size_t running() const { return running_; }
  // SIGINT or SIGTERM once one was received, else 0.
  int stop_signal() const;

 private:
  Exit reap(pid_t pid);  // frees pid's slot and collects its status
  std::size_t capacity_;
  std::size_t running_ = 0;
};

}  // namespace poslab::cli
