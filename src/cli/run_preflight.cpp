#include "cli/run_preflight.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "dist/world.h"
#include "encoders/encoder.h"
#include "io/temp_files.h"
#include "model/memory_estimate.h"
#include "core/config_text.h"  // printable, file_name_problem
#include "core/parameters.h"
#include "tasks/task.h"

namespace poslab::cli {

namespace fs = std::filesystem;

namespace {

std::size_t saturating_add(std::size_t a, std::size_t b) {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

}  // namespace

void check_thread_count(int threads) {
  const std::string bound = "expected an integer between 0 and " + std::to_string(kMaxThreads) +
                            " (0 = the experiment's train.threads)";
  if (threads < 0 || threads > kMaxThreads)
    throw ConfigError("--threads: " + bound + ", got " + std::to_string(threads));
  if (threads > 0) return;
  // OMP_NUM_THREADS is "N" or a nesting list "N,M,..."; each entry must be in bounds.
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (!env) return;
  const std::string text = env;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string entry = text.substr(start, comma - start);
    char* end = nullptr;
    const long value = std::strtol(entry.c_str(), &end, 10);
    if (!entry.empty() && end == entry.c_str() + entry.size() && value > kMaxThreads)
      throw ConfigError("OMP_NUM_THREADS: expected at most " + std::to_string(kMaxThreads) +
                        " threads, got '" + printable(text) + "'");
    start = comma + 1;
  }
}

void check_suffix(const std::string& suffix, const std::string& run_name) {
  // The suffix alone may start with '.' or '_' (it follows the run name), so its
  // characters are checked with a stand-in first letter.
  const std::string alone = file_name_problem("x" + suffix.substr(0, kMaxRunNameBytes));
  if (!alone.empty() && alone.find("contains") == 0)
    throw ConfigError("--suffix: expected letters, digits, '.', '_' or '-', got '" +
                      printable(suffix) + "' (" + alone + ")");
  const std::string name = run_name + suffix;
  const std::string problem = file_name_problem(name);
  if (!problem.empty())
    throw ConfigError("--suffix: run name '" + printable(name) + "' is not a safe file name (" +
                      problem + "); expected at most " + std::to_string(kMaxRunNameBytes) +
                      " bytes of letters, digits, '.', '_' or '-'");
}

void check_parameters_fit(const RunSpec& spec, std::size_t available) {
  std::size_t model_count = 0, encoder_count = 0;
  try {
    const auto task = TaskRegistry::instance().build(spec.task);
    TransformerConfig config;
    config.vocab_size = task->vocab_size();
    config.layers = spec.model.layers;
    config.d_model = spec.model.d_model;
    config.heads = spec.model.heads;
    config.d_ff = spec.model.d_ff;
    config.tied_embeddings = spec.model.tied_embeddings;
    config.causal = task->kind() == ModelKind::Causal;
    auto encoder = EncoderRegistry::instance().build(spec.encoder, Transformer::model_dims(config));
    ParameterSet declared;  // declared, never allocated
    encoder->declare_parameters(declared);
    for (const auto& info : declared.infos()) encoder_count = saturating_add(encoder_count, info.size);
    model_count = estimate_parameter_count(config);
  } catch (const ConfigError&) {
    return;  // prepare_run reports it, in the order it checks things
  }
  const std::size_t count = saturating_add(model_count, encoder_count);
  const std::size_t need = estimate_training_state_bytes(count);
  if (need <= available) return;
  const ConfigNode where =
      encoder_count > model_count ? spec.root.child("encoder") : spec.root.child("model");
  where.fail(std::to_string(count) + " parameters (" + std::to_string(encoder_count) +
             " of them the encoder's) need an estimated " + format_bytes(need) +
             " for values, gradients and AdamW state; " + format_bytes(available) + " available");
}

void check_run_fits_in_memory(const PreparedRun& run, std::size_t available) {
  const RunSpec& spec = run.spec;
  const Task& task = *run.task;
  const TransformerConfig& model = run.model->config();
  const std::size_t state = estimate_training_state_bytes(run.model->params().count());
  const ConfigNode eval = spec.root.child("eval");

  // Training allocates the activations kept for backward (Transformer::resize); they stay
  // allocated while the run evaluates with the streaming forward, whose own buffers
  // (resize_inference) keep their largest size so far.
  std::vector<std::pair<int, int>> train_shapes, eval_shapes;
  const auto check = [&](int B, int T, const ConfigNode& where, const std::string& what,
                         bool evaluation) {
    if (std::size_t(B) * std::size_t(T) > std::size_t(INT_MAX))
      where.fail(what + " is " + std::to_string(std::size_t(B) * std::size_t(T)) +
                 " tokens per batch; expected at most " + std::to_string(INT_MAX));
    (evaluation ? eval_shapes : train_shapes).emplace_back(B, T);
    std::size_t need = saturating_add(state, estimate_forward_bytes_after(model, train_shapes));
    if (!eval_shapes.empty())
      need = saturating_add(need, estimate_inference_bytes_after(model, eval_shapes));
    need = saturating_add(need, estimate_batch_bytes(B, T));
    if (need > available)
      where.fail(what + " needs an estimated " + format_bytes(need) +
                 (evaluation ? " (parameters, optimizer state, training activations and the "
                               "evaluation forward's buffers); "
                             : " (parameters, optimizer state and the activations kept for "
                               "backward); ") +
                 format_bytes(available) + " available");
  };
  const auto shape_text = [](const std::string& batch_key, int B, int T) {
    return "(" + batch_key + " " + std::to_string(B) + " x sequence " + std::to_string(T) + ")";
  };

  const int train_T = task.sequence_length(task.max_train_length());
  // The forward runs on one micro batch of this rank's share (train/batch_gradient.h).
  const int pieces = spec.train.micro_batches * dist::world().size();
  const int train_B = spec.train.batch_size % pieces == 0 ? spec.train.batch_size / pieces
                                                          : spec.train.batch_size;
  check(train_B, train_T, spec.root.child("task").child("length"),
        "training at length " + std::to_string(task.max_train_length()) + " " +
            shape_text(pieces > 1 ? "train.batch_size / (ranks x micro_batches)" : "train.batch_size",
                       train_B, train_T),
        false);

  const int eval_B = spec.eval.batch_size;
  for (std::size_t i = 0; i < run.eval_lengths.size(); ++i) {
    const int L = run.eval_lengths[i];
    const int T = task.sequence_length(L);
    const int eval_B = eval_batch_size(spec.eval, T);
    // Without eval.lengths the run evaluates at its training length.
    const ConfigNode where =
        spec.eval.lengths.empty() ? eval.child("batch_size") : eval.child("lengths").item(i);
    check(eval_B, T, where,
          "length " + std::to_string(L) + " " + shape_text("eval.batch_size", eval_B, T), true);
  }
  for (std::size_t v = 0; v < run.eval_variants.size(); ++v)
    for (const int L : run.eval_lengths) {
      const int T = run.eval_variants[v]->sequence_length(L);
      const int eval_B = eval_batch_size(spec.eval, T);
      check(eval_B, T, eval.child("variants").child(spec.eval.variants[v].name),
            "length " + std::to_string(L) + " " + shape_text("eval.batch_size", eval_B, T), true);
    }
  // The probes read one batch of at most 32 sequences at the training length.
  if (!run.probes.empty()) {
    const int B = std::min(eval_B, 32);
    check(B, train_T, spec.root.child("probes"),
          "the probes' batch " + shape_text("batch", B, train_T), false);
  }
}

void check_output_dir_writable(const std::string& dir, const std::string& what) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error)
    throw ConfigError(what + ": cannot create folder '" + dir + "': " + error.message());
  if (!fs::is_directory(dir, error))
    throw ConfigError(what + ": expected a folder, got '" + dir + "' (not a folder)");
  try {
    // Created exclusively and removed again when `probe` goes out of scope.
    TempFile probe((fs::path(dir) / ".poslab-write-check").string());
  } catch (const std::system_error& e) {
    throw ConfigError(what + ": cannot write in folder '" + dir + "': " + e.code().message());
  } catch (const std::runtime_error& e) {
    throw ConfigError(what + ": cannot write in folder '" + dir + "': " + e.what());
  }
}

void check_results_path_free(const std::string& path, const std::string& what) {
  std::error_code error;
  if (fs::is_directory(fs::symlink_status(path, error)))
    throw ConfigError(what + ": the results file '" + path +
                      "' exists as a folder; expected it to be free or a file (move the folder "
                      "or rename the run)");
}

}  // namespace poslab::cli
