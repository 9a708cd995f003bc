// The passive OpenMP wait default (sys/openmp_wait.h says why it needs a re-exec).
#include "sys/openmp_wait.h"

#include <unistd.h>

#include <cstdlib>

namespace poslab {

namespace {

constexpr const char* kDefaultedMarker = "POSLAB_WAIT_DEFAULTED";
// The variables by which a user tells libgomp how to wait.
constexpr const char* kWaitVariables[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"};

}  // namespace

void reexec_with_passive_openmp_wait(char** argv) {
  for (const char* name : kWaitVariables)
    if (std::getenv(name) != nullptr) return;
  // The marker guards against a loop should the variable not survive the exec somehow.
  if (std::getenv(kDefaultedMarker) != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv(kDefaultedMarker, "1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached if the exec failed (no /proc): run on with libgomp's default, and say so
  // truthfully in logs.
  unsetenv("OMP_WAIT_POLICY");
}

std::string openmp_wait_description() {
  std::string text;  // "NAME=value, ..." of the wait variables present
  for (const char* name : kWaitVariables)
    if (const char* value = std::getenv(name)) text += std::string(text.empty() ? "" : ", ") + name + "=" + value;
  if (text.empty()) return "OpenMP default (spin, then sleep)";
  if (std::getenv(kDefaultedMarker) != nullptr) text += " (poslab default)";
  return text;
}

}  // namespace poslab
