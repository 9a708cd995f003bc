#include "sys/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace poslab {

namespace {

// The whole of a small system file, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A decimal integer > 0 written alone (surrounding blanks and one newline allowed).
std::optional<long long> positive_integer(const std::string& word) {
  if (word.empty() || word.size() > 18) return std::nullopt;
  for (const char c : word)
    if (c < '0' || c > '9') return std::nullopt;
  const long long value = std::strtoll(word.c_str(), nullptr, 10);
  if (value <= 0) return std::nullopt;
  return value;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Quoted and cut, so that a damaged file cannot flood a message.
std::string shown(const std::string& text) {
  std::string s = text.substr(0, 40);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return "'" + s + (text.size() > 40 ? "...'" : "'");
}

CpuQuota min_quota(const CpuQuota& a, const CpuQuota& b) {
  if (!a.cpus) return b;
  if (!b.cpus) return a;
  return {std::min(*a.cpus, *b.cpus)};
}

// Lines of /proc/self/cgroup: "ID:CONTROLLERS:PATH". v2 has the single line "0::/path".
std::optional<std::string> cgroup_path(const std::string& proc_self_cgroup, const std::string& controller) {
  std::istringstream in(proc_self_cgroup);
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::istringstream list(controllers);
    bool match = controller.empty() && controllers.empty();
    for (std::string c; !match && std::getline(list, c, ',');) match = c == controller;
    if (match) return line.substr(second + 1);
  }
  return std::nullopt;
}

// cgroup v2: cpu.max of this process's cgroup and of every ancestor up to the mount
// point (a parent's limit binds its children too). Inside a cgroup namespace the
// process's path is "/" and the mount's own cpu.max is the container's limit.
CpuQuota v2_quota(const std::string& proc_self_cgroup) {
  CpuQuota quota;
  std::string path = cgroup_path(proc_self_cgroup, "").value_or("/");
  while (true) {
    if (const auto text = read_file("/sys/fs/cgroup" + path + (path == "/" ? "" : "/") + "cpu.max")) {
      try {
        quota = min_quota(quota, parse_cgroup_v2_cpu_max(*text));
      } catch (const std::invalid_argument&) {  // the system's file: no limit known
      }
    }
    if (path.empty() || path == "/") break;
    const auto slash = path.find_last_of('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return quota;
}

// cgroup v1: the cpu controller's mount (named cpu or cpu,cpuacct) at this process's path,
// else at the mount's root (containers often see only their own group there).
CpuQuota v1_quota(const std::string& proc_self_cgroup) {
  const std::string path = cgroup_path(proc_self_cgroup, "cpu").value_or("/");
  for (const std::string mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
    for (const std::string& dir : {mount + (path == "/" ? "" : path), mount}) {
      const auto quota = read_file(dir + "/cpu.cfs_quota_us");
      const auto period = read_file(dir + "/cpu.cfs_period_us");
      if (!quota || !period) continue;
      try {
        return parse_cgroup_v1_quota(*quota, *period);
      } catch (const std::invalid_argument&) {
        return {};
      }
    }
  }
  return {};
}

}  // namespace

CpuQuota parse_cgroup_v2_cpu_max(const std::string& text) {
  const std::vector<std::string> w = words(text);
  if (w.size() != 2)
    throw std::invalid_argument("cpu.max: expected 'max PERIOD' or 'QUOTA PERIOD', got " + shown(text));
  const auto period = positive_integer(w[1]);
  if (!period) throw std::invalid_argument("cpu.max: expected a period > 0, got " + shown(text));
  if (w[0] == "max") return {};
  const auto quota = positive_integer(w[0]);
  if (!quota) throw std::invalid_argument("cpu.max: expected 'max' or a quota > 0, got " + shown(text));
  return {double(*quota) / double(*period)};
}

CpuQuota parse_cgroup_v1_quota(const std::string& quota_text, const std::string& period_text) {
  const std::vector<std::string> q = words(quota_text), p = words(period_text);
  const auto period = p.size() == 1 ? positive_integer(p[0]) : std::nullopt;
  if (!period)
    throw std::invalid_argument("cpu.cfs_period_us: expected an integer > 0, got " + shown(period_text));
  if (q.size() == 1 && q[0] == "-1") return {};
  const auto quota = q.size() == 1 ? positive_integer(q[0]) : std::nullopt;
  if (!quota)
    throw std::invalid_argument("cpu.cfs_quota_us: expected -1 or an integer > 0, got " + shown(quota_text));
  return {double(*quota) / double(*period)};
}

int usable_cpus(int affinity_cpus, const CpuQuota& quota) {
  int cpus = std::max(1, affinity_cpus);
  // floor, not round: see the header. 1e-9 absorbs 200000/100000 computed as 1.9999...
  if (quota.cpus) cpus = std::min(cpus, std::max(1, int(std::floor(*quota.cpus + 1e-9))));
  return cpus;
}

int auto_thread_count(double step_flops, int cpus) {
  const double wanted = std::floor(step_flops / kMinStepFlopsPerThread);
  const int limit = std::max(1, cpus);
  if (!(wanted >= 1)) return 1;  // also NaN
  return wanted >= limit ? limit : int(wanted);
}

int thread_share(int cpus, int jobs, int ranks_per_node) {
  return std::max(1, cpus / (std::max(1, jobs) * std::max(1, ranks_per_node)));
}

int system_affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

CpuQuota system_cpu_quota() {
  const std::string self = read_file("/proc/self/cgroup").value_or("");
  // A unified (v2) hierarchy has cgroup.controllers at its mount point.
  if (read_file("/sys/fs/cgroup/cgroup.controllers")) return v2_quota(self);
  return v1_quota(self);
}

int system_usable_cpus() {
  static const int cpus = usable_cpus(system_affinity_cpus(), system_cpu_quota());
  return cpus;
}

}  // namespace poslab
