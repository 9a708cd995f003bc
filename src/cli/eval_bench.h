#pragma once
// `poslab bench --eval-length T[,T...]`: evaluation throughput and peak memory of the
// streaming forward (Transformer::forward_inference) per encoder and length, B sequences of
// random tokens. Each (encoder, length, path) is measured in a child process of its own
// (fork), so that its peak resident memory (getrusage ru_maxrss) is its own and not the
// largest of everything measured before it.
#include <memory>
#include <string>
#include <vector>

#include "model/transformer.h"

namespace poslab::cli {

struct EvalBenchOptions {
  std::vector<std::string> encoders;
  std::vector<int> lengths;
  TransformerConfig model;
  int batch = 1;
  int steps = 1;   // timed forwards per measurement
  int warmup = 0;  // untimed forwards first
  bool materialized = false;  // also measure the training forward (B·H·T² per layer)
};

// The encoder `name` with its default options for a model of `model`'s shape, able to run
// sequences of length T (learned positions get max_length T).
std::unique_ptr<PositionalEncoder> bench_encoder(const std::string& name,
                                                 const TransformerConfig& model, int T);

// Prints the table to stdout; returns the exit code (1 if a measurement failed).
int run_eval_bench(const EvalBenchOptions& options);

}  // namespace poslab::cli
