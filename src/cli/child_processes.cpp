#include "cli/child_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

extern char** environ;

namespace poslab::cli {

namespace {

static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

// The state the handler reads. Slots hold running children's PIDs (0 = free); a PID is
// stored before its child may be signalled and cleared before it is reaped, so the handler
// never signals a number the kernel may have given to another process.
std::unique_ptr<std::atomic<pid_t>[]> g_running;
std::size_t g_slots = 0;
std::atomic<int> g_stop_signal{0};
struct sigaction g_previous_int, g_previous_term;
bool g_int_was_ignored = false;

// Each child leads its own process group (its PID), so kill(-pid) reaches it and anything
// it may start.
void forward_to_children(int signal) {
  for (std::size_t i = 0; i < g_slots; ++i) {
    const pid_t pid = g_running[i].load();
    if (pid > 0) ::kill(-pid, signal);
  }
}

void on_stop_signal(int signal) {
  const int saved_errno = errno;
  g_stop_signal.store(signal);
  forward_to_children(signal);
  errno = saved_errno;
}

void write_all(int fd, const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(fd, text, left);
    if (n <= 0) return;
    text += n;
    left -= std::size_t(n);
  }
}

// In the forked child, before exec: only async-signal-safe calls from here on.
[[noreturn]] void exec_child(char* const* argv, const char* log_path, pid_t sweep_pid,
                             const sigset_t& original_mask) {
  ::setpgid(0, 0);
  // Should the sweep be killed outright, its children are told to stop too. If it died
  // before this line, the request would never fire: stop now instead.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != sweep_pid) ::_exit(128 + SIGTERM);
  // The sweep's own handlers must not run here: a signal pending since fork() then acts
  // on this child as it would on the sweep without handlers (exec keeps ignored signals
  // ignored, so a sweep started with SIGINT ignored passes that on).
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);

  const int log = ::open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (log < 0) ::_exit(127);
  ::dup2(log, STDOUT_FILENO);
  ::dup2(log, STDERR_FILENO);
  if (log > STDERR_FILENO) ::close(log);
  const int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0 && null != STDIN_FILENO) {
    ::dup2(null, STDIN_FILENO);
    ::close(null);
  }
  ::execve(argv[0], argv, environ);
  write_all(STDERR_FILENO, "poslab sweep: cannot execute ");
  write_all(STDERR_FILENO, argv[0]);
  write_all(STDERR_FILENO, "\n");
  ::_exit(127);
}

}  // namespace

ChildProcesses::ChildProcesses(std::size_t max_running) : capacity_(max_running) {
  if (g_running) throw std::logic_error("ChildProcesses: only one at a time");
  g_running = std::make_unique<std::atomic<pid_t>[]>(max_running);
  for (std::size_t i = 0; i < max_running; ++i) g_running[i].store(0);
  g_slots = max_running;
  g_stop_signal.store(0);

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &action, &g_previous_term);
  // A sweep started with SIGINT ignored (nohup, `cmd &` in a script) keeps ignoring it.
  ::sigaction(SIGINT, nullptr, &g_previous_int);
  g_int_was_ignored = g_previous_int.sa_handler == SIG_IGN;
  if (!g_int_was_ignored) ::sigaction(SIGINT, &action, nullptr);
}

ChildProcesses::~ChildProcesses() {
  if (running_ > 0) {
    forward_to_children(SIGTERM);
    try {
      while (running_ > 0) wait_any();
    } catch (const std::exception&) {  // nothing left to wait for
    }
  }
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  if (!g_int_was_ignored) ::sigaction(SIGINT, &g_previous_int, nullptr);
  g_slots = 0;
  g_running.reset();
}

int ChildProcesses::stop_signal() const { return g_stop_signal.load(); }

pid_t ChildProcesses::start(const std::vector<std::string>& argv, const std::string& log_path) {
  if (running_ >= capacity_) throw std::logic_error("ChildProcesses: too many children");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // Signals wait until the new PID is in the table (else the handler could miss it).
  sigset_t stop_signals, original_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &original_mask);
  const pid_t sweep_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), log_path.c_str(), sweep_pid, original_mask);
  if (pid < 0) {
    const int error = errno;
    ::pthread_sigmask(SIG_SETMASK, &original_mask, nullptr);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
  }
  ::setpgid(pid, pid);  // also in the child; whichever runs first makes the group exist
  for (std::size_t i = 0; i < g_slots; ++i)
    if (g_running[i].load() == 0) {
      g_running[i].store(pid);
      break;
    }
  ++running_;
  ::pthread_sigmask(SIG_SETMASK, &original_mask, nullptr);
  // A signal taken by another thread before the store above did not reach this child.
  if (const int signal = g_stop_signal.load()) ::kill(-pid, signal);
  return pid;
}

ChildProcesses::Exit ChildProcesses::wait_any() {
  siginfo_t info{};
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitid: ") + std::strerror(errno));
  return reap(info.si_pid);
}

std::optional<ChildProcesses::Exit> ChildProcesses::try_wait_any() {
  siginfo_t info{};
  info.si_pid = 0;  // stays 0 when no child has ended (waitid with WNOHANG)
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOWAIT | WNOHANG) != 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitid: ") + std::strerror(errno));
  if (info.si_pid == 0) return std::nullopt;
  return reap(info.si_pid);
}

ChildProcesses::Exit ChildProcesses::reap(pid_t pid) {
  for (std::size_t i = 0; i < g_slots; ++i)
    if (g_running[i].load() == pid) {
      g_running[i].store(0);
      --running_;
      break;
    }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  return {pid, status};
}

}  // namespace poslab::cli
