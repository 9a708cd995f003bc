#pragma once
// Temporary files for atomic writes ("write a temp file, rename it over the final name").
//
// A temp name is unique to its writer: "<final>.tmp.<pid>.<16 random hex digits>",
// created with O_CREAT|O_EXCL|O_NOFOLLOW, so that
//   - a symlink planted at a predictable name is never followed (there is none to guess),
//   - two processes writing the same final file never share a temp file (the last rename
//     wins; neither file mixes with the other),
//   - a leftover from a killed process names the PID that left it (remove_stale_temp_files).
// Every live temp file is listed in a fixed-size, signal-safe registry; after
// install_temp_file_cleanup(), SIGINT/SIGTERM/SIGHUP remove them before the process dies
// of the signal (exit status 130/143/129 as before).
#include <string>

namespace poslab {

// One reserved temp file next to `final_path`. The destructor removes it unless it was
// renamed over the final name with commit().
class TempFile {
 public:
  // Creates the empty temp file. Throws std::system_error (a runtime_error naming
  // `final_path`; code() says why) if it cannot.
  explicit TempFile(const std::string& final_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  // Renames the temp file over the final name (atomic within a file system). Throws
  // std::runtime_error if the rename fails; the destructor then still removes the temp.
  void commit();

 private:
  std::string final_path_;
  std::string path_;
  int slot_ = -1;  // registry slot, -1 if the path did not fit in one
  bool committed_ = false;
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every live temp file, then
// restore the previous disposition and re-raise the signal. Idempotent; a signal that is
// ignored (e.g. SIGHUP under nohup) stays ignored. Call once at the start of a command.
void install_temp_file_cleanup();

// Removes every live temp file. Async-signal-safe: a signal handler installed elsewhere
// (e.g. one that finishes a training step first) must call it before the process exits.
void remove_live_temp_files() noexcept;

// Removes "<name>.h5.tmp.<pid>.<hex>" files in `dir` whose PID is no longer running (left by
// a process killed with SIGKILL or a power loss); returns how many. Errors are ignored:
// this is tidying, never a reason to fail a run.
int remove_stale_temp_files(const std::string& dir);

}  // namespace poslab
