#pragma once
// What `poslab run` checks after the configuration is valid and before the first training
// step of any run, so that no run fails after training for a reason that was knowable
// before it: option bounds of the command line, shapes that do not fit in memory, and
// output folders or results paths that cannot be written. Each failure is a ConfigError
// (one line, exit 2) naming the option or the file and key to change.
#include <cstddef>
#include <optional>
#include <string>

#include "train/run.h"

namespace poslab::cli {

// --threads N: 0 (the experiment's train.threads) to kMaxThreads. Also OMP_NUM_THREADS when
// --threads is 0 (train.threads auto follows it),
// since libgomp crashes creating an absurd number of threads.
void check_thread_count(int threads);

// --suffix: the characters of a safe file name (any position; "__key-value" is fine), and
// `run_name` + suffix must be a safe run name (core/config_text.h, file_name_problem).
void check_suffix(const std::string& suffix, const std::string& run_name);

// Refuses a run whose parameters, gradients and AdamW state alone need more than
// `available` bytes, before the model is built (building it would allocate them): e.g.
// d_model 65536 with 64 layers, or a learned position table of 10^9 rows. Counts the
// encoder's parameters by letting it declare them, without allocating. Configuration
// errors are left for prepare_run to report.
void check_parameters_fit(const RunSpec& spec, std::size_t available);

// Refuses a run whose training, evaluation or probe shapes need more memory than
// `available` bytes (model/memory_estimate.h), naming the key of the first shape that
// does not fit, e.g. "exp.yaml: eval.lengths[0]: length 100000 (eval.batch_size 64 x
// sequence 200000) needs an estimated 41.2 GB ...; 22.9 GB available". Also refuses a
// batch of more than 2^31-1 tokens (the model indexes tokens with int).
void check_run_fits_in_memory(const PreparedRun& run, std::size_t available);

// Creates `dir` (and parents), then creates and removes a uniquely named file in it, so
// that an unwritable folder (read-only, immutable, full inode table) is found before
// training. `what` names the setting, e.g. "--out" or "exp.yaml: output.dir".
void check_output_dir_writable(const std::string& dir, const std::string& what);

// Refuses a results path that exists as a folder (the final rename would fail after
// training).
void check_results_path_free(const std::string& path, const std::string& what);

}  // namespace poslab::cli
