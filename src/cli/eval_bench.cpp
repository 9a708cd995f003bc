#include "cli/eval_bench.h"

#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <iostream>

#include "cli/table.h"
#include "core/rng.h"
#include "io/config.h"

namespace poslab::cli {

std::unique_ptr<PositionalEncoder> bench_encoder(const std::string& name,
                                                 const TransformerConfig& model, int T) {
  auto origins = std::make_shared<KeyOrigins>();
  YAML::Node section;
  section["name"] = name;
  if (name == "learned") section["max_length"] = T;
  const PluginSpec spec{name, ConfigNode(section, "encoder", origins, "bench")};
  return EncoderRegistry::instance().build(spec, Transformer::model_dims(model));
}

namespace {

// What a measuring child sends back through its pipe (plain bytes: same binary both ends).
struct Measurement {
  int ok = 0;
  int threads = 0;
  double tokens_per_second = 0, ms_per_forward = 0;
  long peak_rss_kib = 0;
  char error[240] = {};
};

// In the child: build the model, run the forwards, report.
Measurement measure(const std::string& encoder, int T, bool materialized,
                    const EvalBenchOptions& o) {
  Measurement m;
  Transformer model(o.model, bench_encoder(encoder, o.model, T));
  Rng rng(1);
  model.params().initialize(rng);
  std::vector<std::int32_t> ids(std::size_t(o.batch) * T);
  for (auto& id : ids) id = rng.uniform_int(0, o.model.vocab_size - 1);
  const auto forward = [&] {
    if (materialized) model.forward(ids.data(), o.batch, T);
    else model.forward_inference(ids.data(), o.batch, T);
  };
  for (int i = 0; i < o.warmup; ++i) forward();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.steps; ++i) forward();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  m.ok = 1;
  m.threads = omp_get_max_threads();
  m.tokens_per_second = double(o.batch) * T * o.steps / seconds;
  m.ms_per_forward = 1000 * seconds / o.steps;
  m.peak_rss_kib = usage.ru_maxrss;  // Linux: KiB
  return m;
}

// Runs measure() in a forked child. The parent has not started OpenMP (no parallel region
// runs before the fork), so each child starts its own thread pool.
Measurement measure_in_child(const std::string& encoder, int T, bool materialized,
                             const EvalBenchOptions& o) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("poslab bench: pipe: " + std::string(std::strerror(errno)));
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("poslab bench: fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    close(fds[0]);
    Measurement m;
    try {
      m = measure(encoder, T, materialized, o);
    } catch (const std::exception& e) {
      std::strncpy(m.error, e.what(), sizeof m.error - 1);
    }
    const ssize_t written = write(fds[1], &m, sizeof m);
    _exit(written == ssize_t(sizeof m) ? 0 : 1);
  }
  close(fds[1]);
  Measurement m;
  const ssize_t got = read(fds[0], &m, sizeof m);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != ssize_t(sizeof m)) {
    m = Measurement{};
    const std::string why = WIFSIGNALED(status)
                                ? "killed by signal " + std::to_string(WTERMSIG(status)) +
                                      (WTERMSIG(status) == SIGKILL ? " (out of memory?)" : "")
                                : "exited with status " + std::to_string(WEXITSTATUS(status));
    std::strncpy(m.error, why.c_str(), sizeof m.error - 1);
  }
  return m;
}

std::string mib(long kib) { return fixed(kib / 1024.0, 1); }

}  // namespace

int run_eval_bench(const EvalBenchOptions& o) {
  for (const auto& name : o.encoders) bench_encoder(name, o.model, 1);  // unknown names: exit 2
  std::cout << "evaluation forward: B=" << o.batch << " d_model=" << o.model.d_model
            << " layers=" << o.model.layers << " heads=" << o.model.heads
            << " d_ff=" << o.model.d_ff << " vocab=" << o.model.vocab_size << ", streaming attention "
            << AttentionTiles{}.queries << "x" << AttentionTiles{}.keys << " tiles, " << o.steps
            << " timed forward(s) after " << o.warmup << " untimed; one process per measurement\n";
  std::vector<std::string> header{"encoder", "length", "tokens/s", "ms/forward", "peak RSS MiB"};
  if (o.materialized)
    for (const char* h : {"materialized tokens/s", "materialized peak RSS MiB"}) header.push_back(h);
  TextTable table(header);
  int failures = 0, threads = 0;
  const auto add_cells = [&](std::vector<std::string>& row, const Measurement& m, bool with_ms) {
    if (!m.ok) {
      ++failures;
      std::cerr << "poslab bench: " << row[0] << " at length " << row[1] << ": " << m.error << "\n";
      row.push_back("failed");
      if (with_ms) row.push_back("-");
      row.push_back("-");
      return;
    }
    threads = m.threads;
    row.push_back(fixed(m.tokens_per_second, 0));
    if (with_ms) row.push_back(fixed(m.ms_per_forward, 1));
    row.push_back(mib(m.peak_rss_kib));
  };
  for (const auto& name : o.encoders)
    for (int T : o.lengths) {
      std::vector<std::string> row{name, std::to_string(T)};
      add_cells(row, measure_in_child(name, T, false, o), true);
      if (o.materialized) add_cells(row, measure_in_child(name, T, true, o), false);
      table.add(row);
    }
  table.print(std::cout);
  if (threads > 0) std::cout << "threads: " << threads << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace poslab::cli
