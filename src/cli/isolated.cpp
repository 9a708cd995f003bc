#include "cli/isolated.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace poslab::cli {
namespace {

// Writes all of `bytes`; the child has nowhere to report a failure, so it just stops.
void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += std::size_t(n);
  }
}

}  // namespace

IsolatedOutcome run_isolated(const std::function<std::string()>& work, int timeout_seconds) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: the first byte says whether the rest is a result ('R') or an error ('E').
    ::close(fds[0]);
    std::string message;
    try {
      message = "R" + work();
    } catch (const std::exception& e) {
      message = std::string("E") + e.what();
    } catch (...) {
      message = "Eunknown exception";
    }
    write_all(fds[1], message);
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers or static destructors of the parent's state
  }

  ::close(fds[1]);
  std::string received;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  char buffer[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file: the child is done (or died)
    received.append(buffer, std::size_t(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  if (timed_out)
    return {false, "reading it took more than " + std::to_string(timeout_seconds) + " s (stopped)"};
  if (WIFSIGNALED(status))
    return {false, std::string("reading it crashed (") + strsignal(WTERMSIG(status)) + "); the file is damaged"};
  if (received.empty() || (received[0] != 'R' && received[0] != 'E'))
    return {false, "reading it failed without a message"};
  return {received[0] == 'R', received.substr(1)};
}

}  // namespace poslab::cli
