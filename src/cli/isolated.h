#pragma once
// Runs a piece of work in a child process, so that an input which crashes or hangs a
// library costs one warning instead of the whole command. libhdf5 1.10 trusts some fields
// of a damaged file's metadata (e.g. the object index of a variable-length string) and
// can read out of bounds; `poslab report` reads each file this way, and a folder with one
// damaged file still gives its table.
#include <functional>
#include <string>

namespace poslab::cli {

struct IsolatedOutcome {
  bool ok = false;
  std::string text;  // ok: what `work` returned; else why it failed, one line
};

// Forks; the child runs `work` and sends back its result (or the what() of an exception it
// threw) through a pipe. A child killed by a signal, or still running after
// `timeout_seconds` (it is then killed), gives ok = false with the reason. Use only from a
// single-threaded point of the program (fork copies only the calling thread).
IsolatedOutcome run_isolated(const std::function<std::string()>& work, int timeout_seconds);

}  // namespace poslab::cli
