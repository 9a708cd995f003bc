#include "io/temp_files.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>

namespace poslab {
namespace {

namespace fs = std::filesystem;

// ---- The registry of live temp files ---------------------------------------------------
// Fixed storage, so that a signal handler can walk it without allocating or locking: a
// slot's path is written first and published by setting `live` (release); the handler
// reads `live` (acquire) and then the path. The mutex only orders writers among themselves.
constexpr int kSlots = 64;
constexpr std::size_t kMaxPathBytes = 4096;

struct Slot {
  std::atomic<bool> live{false};
  char path[kMaxPathBytes];
};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler reads `live`");

Slot g_slots[kSlots];
std::mutex g_slots_mutex;

// Returns the slot holding `path`, or -1 if the path is too long or all slots are taken
// (the file is then still removed by its destructor, only not on a signal).
int register_path(const std::string& path) {
  if (path.size() >= kMaxPathBytes) return -1;
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    if (g_slots[i].live.load(std::memory_order_relaxed)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].live.store(true, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_slot(int slot) {
  if (slot < 0) return;
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  g_slots[slot].live.store(false, std::memory_order_release);
}

// ---- Unique names ------------------------------------------------------------------------

constexpr const char* kTempMarker = ".tmp.";

std::string random_hex16() {
  static std::mutex mutex;
  static std::mt19937_64 engine{(std::uint64_t(std::random_device{}()) << 32) ^
                                std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(engine()));
  return buffer;
}

// "<pid>.<hex>" as written by TempFile: the PID, or -1 if `tail` is not of that form.
long pid_of_temp_tail(const std::string& tail) {
  const auto dot = tail.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 10 || tail.size() - dot - 1 != 16) return -1;
  long pid = 0;
  for (std::size_t i = 0; i < dot; ++i) {
    if (tail[i] < '0' || tail[i] > '9') return -1;
    pid = pid * 10 + (tail[i] - '0');
  }
  for (std::size_t i = dot + 1; i < tail.size(); ++i)
    if (!std::isxdigit(static_cast<unsigned char>(tail[i]))) return -1;
  return pid;
}

// ---- Signals -------------------------------------------------------------------------

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous[NSIG];
std::atomic<bool> g_installed{false};

void remove_then_reraise(int signal_number) {
  remove_live_temp_files();
  // The previous disposition (normally the default: terminate) handles the re-raised
  // signal once this handler returns, so the exit status still says which signal it was.
  ::sigaction(signal_number, &g_previous[signal_number], nullptr);
  ::raise(signal_number);
}

}  // namespace

TempFile::TempFile(const std::string& final_path) : final_path_(final_path) {
  const std::string prefix = final_path + kTempMarker + std::to_string(::getpid()) + ".";
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string candidate = prefix + random_hex16();
    // O_EXCL: never an existing file, and (with O_CREAT) never through a symlink.
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0666);
    if (fd >= 0) {
      ::close(fd);
      path_ = candidate;
      slot_ = register_path(path_);
      return;
    }
    if (errno != EEXIST)
      throw std::system_error(errno, std::generic_category(),
                              final_path + ": cannot create " + candidate);
  }
  throw std::runtime_error(final_path + ": cannot create a temporary file next to it: every "
                                        "name tried exists");
}

TempFile::~TempFile() {
  if (!committed_) ::unlink(path_.c_str());
  unregister_slot(slot_);
}

void TempFile::commit() {
  if (committed_) throw std::logic_error(final_path_ + ": committed twice");
  if (::rename(path_.c_str(), final_path_.c_str()) != 0)
    throw std::runtime_error(final_path_ + ": cannot rename " + path_ + ": " +
                             std::strerror(errno));
  committed_ = true;
  unregister_slot(slot_);
  slot_ = -1;
}

void remove_live_temp_files() noexcept {
  for (Slot& slot : g_slots)
    if (slot.live.load(std::memory_order_acquire)) ::unlink(slot.path);
}

void install_temp_file_cleanup() {
  if (g_installed.exchange(true)) return;
  for (const int signal_number : kCleanupSignals) {
    struct sigaction previous {};
    ::sigaction(signal_number, nullptr, &previous);
    if (previous.sa_handler == SIG_IGN && !(previous.sa_flags & SA_SIGINFO)) continue;
    g_previous[signal_number] = previous;
    struct sigaction action {};
    action.sa_handler = remove_then_reraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    ::sigaction(signal_number, &action, nullptr);
  }
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    // Only results files' temps ("<run>.h5.tmp.<pid>.<hex>"): the folder may hold
    // anything else of the user's.
    const auto marker = name.rfind(kTempMarker);
    if (marker == std::string::npos || marker < 3 || name.compare(marker - 3, 3, ".h5") != 0)
      continue;
    const long pid = pid_of_temp_tail(name.substr(marker + std::strlen(kTempMarker)));
    if (pid <= 0 || pid == long(::getpid())) continue;
    // ESRCH: no such process. EPERM means it runs (under another user): leave it.
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) ++removed;
  }
  return removed;
}

}  // namespace poslab
