#include "cli/sweep_ranks.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "cli/child_processes.h"

namespace poslab::cli {

namespace {

enum Tag : int { kStart = 101, kShutdown, kRequest, kRun, kResult, kDone };

// Idle loops sleep this long between looking for messages and ended children: short
// next to any run, and no core spent spinning.
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// A list of strings as one message: each as 8 bytes of length, then its bytes.
std::string pack(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    const std::uint64_t n = p.size();
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += p;
  }
  return out;
}

std::vector<std::string> unpack(const std::string& bytes) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::uint64_t n = 0;
    if (bytes.size() - at < sizeof n) throw std::runtime_error("sweep: truncated MPI message");
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    if (bytes.size() - at < n) throw std::runtime_error("sweep: truncated MPI message");
    parts.push_back(bytes.substr(at, n));
    at += n;
  }
  return parts;
}

// A run as sent to a worker: everything it needs to start and judge it.
struct RunOrder {
  long index = -1;  // into rank 0's todo; -1 = none left
  std::string log, results, resolved_yaml;
  std::vector<std::string> argv;
};

std::string encode(const RunOrder& o) {
  std::vector<std::string> parts = {std::to_string(o.index), o.log, o.results, o.resolved_yaml};
  parts.insert(parts.end(), o.argv.begin(), o.argv.end());
  return pack(parts);
}

RunOrder decode_order(const std::string& bytes) {
  const std::vector<std::string> parts = unpack(bytes);
  if (parts.empty()) throw std::runtime_error("sweep: empty MPI run message");
  RunOrder o;
  o.index = std::stol(parts[0]);
  if (o.index < 0) return o;
  if (parts.size() < 5) throw std::runtime_error("sweep: malformed MPI run message");
  o.log = parts[1];
  o.results = parts[2];
  o.resolved_yaml = parts[3];
  o.argv.assign(parts.begin() + 4, parts.end());
  return o;
}

std::string encode_outcome(long index, const JobOutcome& outcome) {
  return pack({std::to_string(index), std::to_string(int(outcome.kind)), outcome.why});
}

}  // namespace

SweepWorkersRelease::~SweepWorkersRelease() {
  if (started_) return;
  for (int r = 1; r < world_.size(); ++r) world_.send(r, kShutdown, "");
}

void SweepWorkersRelease::start(int jobs_per_rank) {
  for (int r = 1; r < world_.size(); ++r) world_.send(r, kStart, std::to_string(jobs_per_rank));
  started_ = true;
}

int hand_out_sweep_runs(dist::Communicator& world, SweepWorkersRelease& release,
                        const std::vector<Job>& todo,
                        const std::vector<std::vector<std::string>>& commands,
                        std::size_t jobs_per_rank, SweepTally& tally) {
  release.start(int(jobs_per_rank));
  ChildProcesses children(jobs_per_rank);
  std::map<pid_t, std::size_t> running;  // this rank's children -> todo index
  std::size_t next = 0;
  int workers_left = world.size() - 1;

  while (true) {
    bool busy = false;
    while (!children.stop_signal() && next < todo.size() && running.size() < jobs_per_rank) {
      const Job& job = todo[next];
      running[children.start(commands[next], job.log)] = next;
      std::cerr << "[sweep] started " << job.run << job.suffix << " on rank 0 (log " << job.log << ")\n";
      ++next;
      busy = true;
    }
    while (const std::optional<dist::Message> m = world.try_receive()) {
      busy = true;
      if (m->tag == kRequest) {
        RunOrder order;
        if (!children.stop_signal() && next < todo.size()) {
          const Job& job = todo[next];
          order = {long(next), job.log, job.results, job.resolved_yaml, commands[next]};
          std::cerr << "[sweep] started " << job.run << job.suffix << " on rank " << m->source
                    << " (log " << job.log << ")\n";
          ++next;
        }
        world.send(m->source, kRun, encode(order));
      } else if (m->tag == kResult) {
        const std::vector<std::string> parts = unpack(m->bytes);
        if (parts.size() != 3) throw std::runtime_error("sweep: malformed MPI result message");
        const std::size_t i = std::stoul(parts[0]);
        if (i >= todo.size()) throw std::runtime_error("sweep: MPI result for an unknown run");
        record_outcome(tally, todo[i], {JobOutcome::Kind(std::stoi(parts[1])), parts[2]}, m->source);
      } else if (m->tag == kDone) {
        --workers_left;
      } else {
        throw std::runtime_error("sweep: unexpected MPI message (tag " + std::to_string(m->tag) + ")");
      }
    }
    while (!running.empty()) {
      const std::optional<ChildProcesses::Exit> exit = children.try_wait_any();
      if (!exit) break;
      busy = true;
      const auto it = running.find(exit->pid);
      if (it == running.end()) continue;
      const std::size_t i = it->second;
      running.erase(it);
      record_outcome(tally, todo[i],
                     judge_child(todo[i].results, todo[i].resolved_yaml, exit->status, children.stop_signal() != 0),
                     0);
    }
    const bool nothing_to_start = next == todo.size() || children.stop_signal();
    if (running.empty() && workers_left == 0 && nothing_to_start) break;
    if (!busy) std::this_thread::sleep_for(kPollInterval);
  }
  return children.stop_signal();
}

int serve_sweep_runs(dist::Communicator& world) {
  // START (with this rank's --jobs) or SHUTDOWN from rank 0.
  std::size_t slots = 0;
  while (slots == 0) {
    const std::optional<dist::Message> m = world.try_receive();
    if (!m) {
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    if (m->tag == kShutdown) return 0;
    if (m->tag != kStart) throw std::runtime_error("sweep: unexpected MPI message before START");
    slots = std::stoul(m->bytes);
  }

  ChildProcesses children(slots);
  std::map<pid_t, RunOrder> running;
  bool asked = false, none_left = false;
  while (true) {
    bool busy = false;
    if (!asked && !none_left && !children.stop_signal() && running.size() < slots) {
      world.send(0, kRequest, "");
      asked = true;
    }
    while (const std::optional<dist::Message> m = world.try_receive()) {
      busy = true;
      if (m->tag != kRun) throw std::runtime_error("sweep: unexpected MPI message from rank 0");
      asked = false;
      RunOrder order = decode_order(m->bytes);
      if (order.index < 0) {
        none_left = true;
      } else if (children.stop_signal()) {  // asked before the signal: give the run back as stopped
        world.send(0, kResult, encode_outcome(order.index, {JobOutcome::Kind::stopped, "not started"}));
      } else {
        const pid_t pid = children.start(order.argv, order.log);
        running[pid] = std::move(order);
      }
    }
    while (!running.empty()) {
      const std::optional<ChildProcesses::Exit> exit = children.try_wait_any();
      if (!exit) break;
      busy = true;
      const auto it = running.find(exit->pid);
      if (it == running.end()) continue;
      const RunOrder& order = it->second;
      const JobOutcome outcome = judge_child(order.results, order.resolved_yaml, exit->status,
                                             children.stop_signal() != 0);
      world.send(0, kResult, encode_outcome(order.index, outcome));
      running.erase(it);
    }
    if ((none_left || children.stop_signal()) && !asked && running.empty()) {
      world.send(0, kDone, "");
      break;
    }
    if (!busy) std::this_thread::sleep_for(kPollInterval);
  }
  return children.stop_signal() ? 128 + children.stop_signal() : 0;
}

}  // namespace poslab::cli
