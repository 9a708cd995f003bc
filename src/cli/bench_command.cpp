// poslab bench: training throughput of the reference configuration (issue 7: causal LM,
// vocabulary 64, d_model 128, 4 layers, 4 heads, d_ff 512, T 128, batch 32, AdamW) for one
// or all encoders, on random tokens (the task does not change the cost of a step).
//
// GFLOP/s counts the FLOPs of a training step by model/step_flops.h; --step-flops prints
// that count for the given shape and exits, so that scripts/bench.sh and
// bench/pytorch_reference.py use the same formula instead of copies of it.
//
// Threads: --threads N, else train.threads auto's choice for this shape (OMP_NUM_THREADS if
// set; sys/cpu_budget.h). --contention measures the same step idle and then beside a busy
// neighbour (cli/busy_neighbour.h: one spinning process) and prints the ratio (issue 14).
//
// With --eval-length T[,T...] it measures evaluation instead (cli/eval_bench.h): the
// streaming forward's tokens/s and peak RSS per encoder and length, on the small default
// model (2 layers, d_model 64, 4 heads, d_ff 256, B = 1) unless the options say otherwise.
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/busy_neighbour.h"
#include "cli/commands.h"
#include "cli/eval_bench.h"
#include "cli/options_util.h"
#include "cli/table.h"
#include "dist/world.h"
#include "model/step_flops.h"
#include "model/transformer.h"
#include "sys/cpu_budget.h"
#include "sys/openmp_wait.h"
#include "train/adamw.h"
#include "train/batch_gradient.h"
#include "train/thread_choice.h"

namespace poslab::cli {

namespace {

struct BenchResult {
  double tokens_per_second, ms_per_step, gflops;
  double comm_ms_per_step = 0;  // gradient reduction between ranks (0 with one rank)
};

// Under mpirun each rank computes B / ranks sequences of the step and the gradients are
// summed as in data-parallel training (train/batch_gradient.h); tokens/s counts the whole
// batch of B sequences.
BenchResult bench_one(const std::string& encoder_name, const TransformerConfig& mc, int B, int T,
                      int steps, int warmup, dist::Communicator& comm) {
  Transformer model(mc, bench_encoder(encoder_name, mc, T));
  Rng rng(1);
  model.params().initialize(rng);
  AdamW opt(model.params(), AdamWConfig{});
  Batch batch;
  batch.batch_size = B;
  batch.seq_len = T;
  batch.inputs.resize(std::size_t(B) * T);
  batch.targets.resize(batch.inputs.size());
  batch.loss_mask.assign(batch.inputs.size(), 1);
  for (auto& id : batch.inputs) id = rng.uniform_int(0, mc.vocab_size - 1);
  for (auto& id : batch.targets) id = rng.uniform_int(0, mc.vocab_size - 1);
  BatchGradientComputer gradient(comm, 1);

  double comm_seconds = 0;
  auto step = [&] {
    comm_seconds += gradient.compute(model, batch).comm_seconds;
    clip_grad_norm(model.params(), 1.0);
    opt.step(model.params(), 1e-3);
  };
  for (int i = 0; i < warmup; ++i) step();
  comm_seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const double N = double(B) * T;
  return {N * steps / seconds, 1000 * seconds / steps,
          training_step_flops(mc, B, T) * steps / seconds / 1e9, 1000 * comm_seconds / steps};
}

// Data parallel on p nodes, each computing this run's per-rank share, with gradients
// summed by a ring allreduce: each node sends and receives 2·(p − 1)/p of the gradient
// (4 bytes × parameters in float) over a link of `gbit_per_second`, in 2·(p − 1) steps of
// `latency_us` each. Weak scaling: the global batch grows with p.
void print_ring_estimate(const BenchResult& r, long parameters, int ranks, int B, int T,
                         double gbit_per_second, double latency_us) {
  const double bytes = 4.0 * double(parameters);
  const double compute_ms = r.ms_per_step - r.comm_ms_per_step;
  const double tokens_per_node = double(B) / ranks * T;
  std::cout << "ring-allreduce estimate (gradient " << fixed(bytes / 1e6, 2) << " MB per step, "
            << fixed(gbit_per_second, 0) << " Gbit/s links, " << fixed(latency_us, 0)
            << " us per message; compute per node as measured here, " << long(tokens_per_node)
            << " tokens per node and step):\n";
  TextTable table({"nodes", "allreduce ms/step", "step ms", "tokens/s", "efficiency"});
  for (int p : {8, 64}) {
    const double ring_ms = 1000 * (2.0 * (p - 1) / p * bytes / (gbit_per_second * 1e9 / 8) +
                                   2.0 * (p - 1) * latency_us * 1e-6);
    const double step_ms = compute_ms + ring_ms;
    table.add({std::to_string(p), fixed(ring_ms, 2), fixed(step_ms, 2),
               fixed(p * tokens_per_node / (step_ms / 1000), 0), fixed(100 * compute_ms / step_ms, 1) + "%"});
  }
  table.print(std::cout);
}

// One option's range, checked before anything is allocated: a zero or negative size would
// divide by zero or wrap into a huge allocation, and an absurd one would only fail late.
void check_range(const std::string& option, long value, long lo, long hi) {
  if (value < lo || value > hi)
    throw ConfigError("poslab bench: --" + option + ": expected an integer from " + std::to_string(lo) +
                      " to " + std::to_string(hi) + ", got " + std::to_string(value));
}

// Refuses shapes whose step cannot fit: tokens per step must be indexable with int (the
// kernels take N = B·T as int), and two buffer kinds whose sizes are exact — attention
// probabilities, [B, H, T, T] per layer plus one gradient copy, and logits with their
// gradient, [B·T, V] twice — must fit in physical memory. Other activations come on top,
// so this is a lower bound of what a step needs.
void check_shape_fits(const TransformerConfig& mc, int B, int T) {
  const double tokens = double(B) * T;
  if (tokens > double(1 << 24))
    throw ConfigError("poslab bench: --batch x --seq-len = " + std::to_string(long(tokens)) +
                      " tokens per step; expected at most " + std::to_string(1 << 24));
  const double attention = (mc.layers + 1.0) * B * mc.heads * double(T) * T;
  const double logits = 2.0 * tokens * mc.vocab_size;
  const double gib = (attention + logits) * sizeof(Real) / double(1 << 30);
  const double physical_gib =
      double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE)) / double(1 << 30);
  if (physical_gib > 0 && gib > physical_gib)
    throw ConfigError("poslab bench: this shape needs at least " + fixed(gib, 1) +
                      " GiB (attention probabilities and logits alone); this machine has " +
                      fixed(physical_gib, 1) + " GiB: expected a smaller --batch, --seq-len, --heads or --vocab");
}

// "4096,16384" -> {4096, 16384}; anything else is a usage error naming the option.
std::vector<int> parse_lengths(const std::string& text) {
  std::vector<int> lengths;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    std::size_t used = 0;
    long value = 0;
    try {
      value = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 1 || value > (1L << 24))
      throw ConfigError("poslab bench: --eval-length: expected a comma-separated list of lengths "
                        "between 1 and 16777216, got '" + text + "'");
    lengths.push_back(int(value));
    start = comma + 1;
  }
  return lengths;
}

// The same step idle and beside one spinning process; the neighbour's share of a machine
// of n usable cores is 1/n, so a run that degrades gracefully keeps about (n-1)/n.
int run_contention(const std::string& encoder, const TransformerConfig& mc, int B, int T, int steps,
                   int warmup, dist::Communicator& comm) {
  std::cout << "contention: " << encoder << ", B=" << B << " T=" << T << " d_model=" << mc.d_model
            << " layers=" << mc.layers << " heads=" << mc.heads << " d_ff=" << mc.d_ff << " vocab="
            << mc.vocab_size << ", " << steps << " timed steps, " << omp_get_max_threads() << " threads of "
            << system_usable_cpus() << " usable CPUs; " << openmp_wait_description() << std::endl;
  const BenchResult idle = bench_one(encoder, mc, B, T, steps, warmup, comm);
  BenchResult busy{};
  {
    const BusyNeighbour neighbour;
    busy = bench_one(encoder, mc, B, T, steps, warmup, comm);
  }
  TextTable table({"condition", "tokens/s", "ms/step", "GFLOP/s", "of idle"});
  table.add({"idle", fixed(idle.tokens_per_second, 0), fixed(idle.ms_per_step, 2), fixed(idle.gflops, 2), "100%"});
  table.add({"one busy core", fixed(busy.tokens_per_second, 0), fixed(busy.ms_per_step, 2), fixed(busy.gflops, 2),
             fixed(100 * busy.tokens_per_second / idle.tokens_per_second, 1) + "%"});
  table.print(std::cout);
  std::cout << "RESULT idle_tokens_per_second=" << fixed(idle.tokens_per_second, 0)
            << " busy_tokens_per_second=" << fixed(busy.tokens_per_second, 0)
            << " ratio=" << fixed(busy.tokens_per_second / idle.tokens_per_second, 3)
            << " threads=" << omp_get_max_threads() << "\n";
  return 0;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  po::options_description options("poslab bench options");
  std::string encoder;
  int steps = 0, warmup = 0, B = 0, T = 0, threads = 0;
  TransformerConfig mc;
  mc.vocab_size = 64;
  mc.layers = 4;
  mc.d_model = 128;
  mc.heads = 4;
  mc.d_ff = 512;
  mc.tied_embeddings = false;
  options.add_options()
      ("encoder", po::value(&encoder)->default_value("learned"), "encoder name, or 'all'")
      ("steps", po::value(&steps)->default_value(20), "timed steps")
      ("warmup", po::value(&warmup)->default_value(3), "untimed steps first")
      ("batch", po::value(&B)->default_value(32), "batch size")
      ("seq-len", po::value(&T)->default_value(128), "sequence length")
      ("d-model", po::value(&mc.d_model)->default_value(128), "model width")
      ("layers", po::value(&mc.layers)->default_value(4), "layers")
      ("heads", po::value(&mc.heads)->default_value(4), "heads")
      ("d-ff", po::value(&mc.d_ff)->default_value(512), "MLP width")
      ("vocab", po::value(&mc.vocab_size)->default_value(64), "vocabulary size")
      ("eval-length", po::value<std::string>(),
       "measure evaluation instead, at these lengths (comma list, e.g. 4096,16384,65536): "
       "streaming forward tokens/s and peak RSS, one process each; small model, B=1 and "
       "1 timed forward unless set")
      ("materialized", po::bool_switch(),
       "with --eval-length: also measure the materialized (training) forward")
      ("bandwidth", po::value<double>()->default_value(10),
       "link speed in Gbit/s assumed by the ring-allreduce estimate for 8 and 64 nodes (printed "
       "under mpirun, or when this is given)")
      ("latency", po::value<double>()->default_value(5),
       "microseconds per message assumed by that estimate")
      ("threads", po::value(&threads)->default_value(0),
       "OpenMP threads (0 = as train.threads auto would choose for this shape, or OMP_NUM_THREADS)")
      ("contention", po::bool_switch(),
       "measure the step idle and then beside a busy neighbour (one spinning process), and "
       "print tokens/s of both and their ratio")
      ("step-flops", po::bool_switch(),
       "print the FLOPs of one training step of this shape (model/step_flops.h) and exit; "
       "nothing is allocated or timed");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_args("bench", "poslab bench [--encoder NAME|all] [--steps N] [--seq-len T] ...", args,
                  options, positional, vm))
    return 0;
  check_range("steps", steps, 1, 1000000);
  check_range("warmup", warmup, 0, 1000000);
  check_range("batch", B, 1, 1 << 16);
  check_range("seq-len", T, 1, 1 << 20);
  check_range("d-model", mc.d_model, 1, 1 << 14);
  check_range("layers", mc.layers, 1, 1024);
  check_range("heads", mc.heads, 1, mc.d_model);
  check_range("d-ff", mc.d_ff, 1, 1 << 16);
  check_range("vocab", mc.vocab_size, 1, 1 << 20);
  check_range("threads", threads, 0, kMaxThreads);
  if (mc.d_model % mc.heads != 0)
    throw ConfigError("poslab bench: --heads: expected a divisor of --d-model (" + std::to_string(mc.d_model) +
                      "), got " + std::to_string(mc.heads));
  if (vm["step-flops"].as<bool>()) {
    if (vm.count("eval-length"))
      throw ConfigError("poslab bench: --step-flops: counts a training step; expected no --eval-length");
    char text[32];
    std::snprintf(text, sizeof text, "%.6e", training_step_flops(mc, B, T));
    std::cout << text << "\n";
    return 0;
  }
  check_shape_fits(mc, B, T);
  if (encoder != "all" && !EncoderRegistry::instance().find(encoder))
    throw ConfigError("poslab bench: --encoder: unknown encoder '" + encoder + "'; expected a name from poslab list encoders, or all");

  std::vector<std::string> names;
  if (encoder == "all") names = EncoderRegistry::instance().names();
  else names.push_back(encoder);

  dist::Communicator& world = dist::world();
  if (B % world.size() != 0)
    throw ConfigError("poslab bench: --batch: expected a multiple of the " + std::to_string(world.size()) +
                      " MPI ranks, got " + std::to_string(B));
  if (vm.count("eval-length")) {
    if (world.size() > 1) throw ConfigError("poslab bench: --eval-length: measures one process; start it without mpirun");
    EvalBenchOptions eo;
    eo.encoders = names;
    eo.lengths = parse_lengths(vm["eval-length"].as<std::string>());
    eo.materialized = vm["materialized"].as<bool>();
    // The evaluation defaults: the small model, one sequence, one forward.
    eo.model = mc;
    eo.model.tied_embeddings = true;
    if (vm["d-model"].defaulted()) eo.model.d_model = 64;
    if (vm["layers"].defaulted()) eo.model.layers = 2;
    if (vm["d-ff"].defaulted()) eo.model.d_ff = 256;
    eo.batch = vm["batch"].defaulted() ? 1 : B;
    eo.steps = vm["steps"].defaulted() ? 1 : steps;
    eo.warmup = vm["warmup"].defaulted() ? 0 : warmup;
    if (eo.model.d_model % eo.model.heads != 0)
      throw ConfigError("poslab bench: --heads: expected a divisor of --d-model");
    if (eo.batch < 1 || eo.steps < 1 || eo.warmup < 0)
      throw ConfigError("poslab bench: --batch and --steps: expected >= 1, --warmup >= 0");
    return run_eval_bench(eo);
  }
  omp_set_num_threads(threads > 0 ? threads
                                  : auto_threads(training_step_flops(mc, B / world.size(), T), system_usable_cpus(),
                                                 world.local_size(), 0, std::getenv("OMP_NUM_THREADS")));
  if (vm["contention"].as<bool>()) {
    if (world.size() > 1) throw ConfigError("poslab bench: --contention: measures one process; start it without mpirun");
    if (names.size() != 1) throw ConfigError("poslab bench: --contention: expected one --encoder, not all");
    return run_contention(names.front(), mc, B, T, steps, warmup, world);
  }
  const bool lead = world.rank() == 0;  // under mpirun, rank 0 prints
  if (lead)
    std::cout << "reference: B=" << B << " T=" << T << " d_model=" << mc.d_model
              << " layers=" << mc.layers << " heads=" << mc.heads << " d_ff=" << mc.d_ff
              << " vocab=" << mc.vocab_size << ", " << steps << " timed steps, "
              << world.describe() << " x " << omp_get_max_threads() << " threads; "
              << openmp_wait_description() << "\n";
  std::vector<std::string> header = {"encoder", "tokens/s", "ms/step", "GFLOP/s", "step time vs none"};
  if (world.size() > 1) header.push_back("comm ms/step");
  TextTable table(header);
  double none_ms = 0;
  std::vector<std::pair<std::string, BenchResult>> results;
  long parameters = 0;
  for (const auto& name : names) {
    const BenchResult r = bench_one(name, mc, B, T, steps, warmup, world);
    if (name == "none") none_ms = r.ms_per_step;
    results.emplace_back(name, r);
    if (parameters == 0) parameters = long(Transformer(mc, bench_encoder(name, mc, T)).params().count());
  }
  if (!lead) return 0;
  for (const auto& [name, r] : results) {
    std::vector<std::string> row = {name, fixed(r.tokens_per_second, 0), fixed(r.ms_per_step, 2),
                                    fixed(r.gflops, 2), none_ms > 0 ? fixed(r.ms_per_step / none_ms, 2) + "x" : "-"};
    if (world.size() > 1) row.push_back(fixed(r.comm_ms_per_step, 2));
    table.add(row);
  }
  table.print(std::cout);
  std::cout << "peak resident memory: " << fixed(peak_rss_mib(), 1) << " MiB\n";
  if (world.size() > 1 || !vm["bandwidth"].defaulted())
    print_ring_estimate(results.front().second, parameters, world.size(), B, T,
                        vm["bandwidth"].as<double>(), vm["latency"].as<double>());
  return 0;
}

}  // namespace poslab::cli
