#pragma once
// An exclusive advisory lock on a file (flock(2)), held while the object lives.
//
// Used by `poslab sweep` so that two sweeps never work in one results folder at once. The
// lock belongs to this process's open file (opened close-on-exec, so child processes do not
// inherit it) and the kernel drops it when the process ends in any way, SIGKILL included;
// the lock file itself is left in place, since removing it would let a third process lock
// a fresh file while a second still holds the old one.
#include <string>
#include <sys/types.h>

namespace poslab {

class ExclusiveFileLock {
 public:
  // Creates the file if needed; throws std::runtime_error if it cannot be opened.
  explicit ExclusiveFileLock(std::string path);
  ~ExclusiveFileLock();
  ExclusiveFileLock(const ExclusiveFileLock&) = delete;
  ExclusiveFileLock& operator=(const ExclusiveFileLock&) = delete;

  // Takes the lock without waiting; false if another open file holds it. On success the
  // file holds this process's PID, so a refused caller can say who holds the lock.
  bool try_lock();
  // The PID the holder wrote into the file, 0 if none is recorded (yet).
  pid_t recorded_holder() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace poslab
