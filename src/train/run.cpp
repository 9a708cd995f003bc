#include "train/run.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "dist/collectives.h"
#include "dist/world.h"
#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"
#include "sys/cpu_budget.h"
#include "train/adamw.h"
#include "train/batch_gradient.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/thread_choice.h"
#include "train/train_step.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

namespace {

ModelKind resolve_kind(const RunSpec& spec, const Task& task) {
  const std::string& a = spec.model.attention;
  if (a == "auto") return task.kind();
  const ModelKind wanted = (a == "causal") ? ModelKind::Causal : ModelKind::Bidirectional;
  if (wanted != task.kind())
    spec.root.child("model").child("attention").fail(
        "task '" + spec.task.name + "' needs a " +
        (task.kind() == ModelKind::Causal ? "causal" : "bidirectional") +
        " model; expected auto or that kind, got '" + a + "'");
  return wanted;
}

std::vector<NamedArray> parameters_as_arrays(const ParameterSet& params) {
  std::vector<NamedArray> out;
  for (const auto& info : params.infos()) {
    NamedArray a{info.name, {}, {}, "parameter"};
    for (int s : info.shape) a.shape.push_back(std::size_t(s));
    a.data.assign(params.values().begin() + info.offset,
                  params.values().begin() + info.offset + info.size);
    out.push_back(std::move(a));
  }
  return out;
}

// Same names, shapes and order: the trained values can be copied across as one buffer.
bool same_parameters(const ParameterSet& a, const ParameterSet& b) {
  if (a.infos().size() != b.infos().size()) return false;
  for (std::size_t i = 0; i < a.infos().size(); ++i)
    if (a.infos()[i].name != b.infos()[i].name || a.infos()[i].shape != b.infos()[i].shape)
      return false;
  return true;
}

}  // namespace

PreparedRun prepare_run(const RunSpec& spec) {
  PreparedRun run;
  run.spec = spec;
  run.task = TaskRegistry::instance().build(spec.task);
  const ModelKind kind = resolve_kind(spec, *run.task);

  TransformerConfig mc;
  mc.vocab_size = run.task->vocab_size();
  mc.layers = spec.model.layers;
  mc.d_model = spec.model.d_model;
  mc.heads = spec.model.heads;
  mc.d_ff = spec.model.d_ff;
  mc.tied_embeddings = spec.model.tied_embeddings;
  mc.causal = (kind == ModelKind::Causal);
  mc.init_std = spec.model.init_std;
  auto encoder = EncoderRegistry::instance().build(spec.encoder, Transformer::model_dims(mc));

  run.eval_lengths = spec.eval.lengths;
  if (run.eval_lengths.empty()) run.eval_lengths.push_back(run.task->max_train_length());
  // Every length the run will use must be supported before any training starts.
  run.task->check_length(run.task->max_train_length());
  for (int L : run.eval_lengths) run.task->check_length(L);
  for (int T : {run.task->sequence_length(run.task->max_train_length())}) {
    encoder->check_positions(T);
    encoder->check_length(T);
  }
  for (int L : run.eval_lengths) {
    encoder->check_positions(run.task->sequence_length(L));
    encoder->check_length(run.task->sequence_length(L));
  }
  for (const EvalVariant& v : spec.eval.variants) {
    auto task = TaskRegistry::instance().build(v.task);
    // A variant changes the data, not the problem: the trained model must be able to read it.
    if (task->vocab_size() != run.task->vocab_size() || task->kind() != run.task->kind())
      v.task.node.fail("this variant changes the task's vocabulary or model kind; expected options "
                       "that change only the data, e.g. eval_p_ignore");
    // An encoder variant is a second model of the same shape that receives the trained
    // parameters after training; only how positions are computed may change.
    std::unique_ptr<Transformer> variant_model;
    if (v.encoder) {
      auto variant_encoder = EncoderRegistry::instance().build(*v.encoder, Transformer::model_dims(mc));
      for (int L : run.eval_lengths) {
        variant_encoder->check_positions(task->sequence_length(L));
        variant_encoder->check_length(task->sequence_length(L));
      }
      variant_model = std::make_unique<Transformer>(mc, std::move(variant_encoder));
    }
    const PositionalEncoder& reader = variant_model ? variant_model->encoder() : *encoder;
    for (int L : run.eval_lengths) {
      task->check_length(L);
      reader.check_positions(task->sequence_length(L));
      reader.check_length(task->sequence_length(L));
    }
    run.eval_variants.push_back(std::move(task));
    run.eval_variant_models.push_back(std::move(variant_model));
  }

  run.probes = build_probes(spec.probes);
  run.model = std::make_unique<Transformer>(mc, std::move(encoder));
  Rng init_rng = Rng::derive(spec.seed, "init");
  run.model->params().initialize(init_rng);
  for (std::size_t i = 0; i < run.eval_variant_models.size(); ++i)
    if (run.eval_variant_models[i] &&
        !same_parameters(run.model->params(), run.eval_variant_models[i]->params()))
      spec.eval.variants[i].encoder->node.fail(
          "these encoder options change the model's parameters; expected options that change only "
          "how positions are computed at evaluation, e.g. interpolation or ntk_factor");
  return run;
}

void load_trained_parameters(const PreparedRun& run, Transformer& variant_model) {
  variant_model.params().values() = run.model->params().values();
}

namespace {

// One evaluation batch's contribution to the metrics, as doubles so that ranks can send
// it: [sequence length, MetricSums fields..., per bucket (loss sum, tokens)...].
constexpr std::size_t kBatchHeader = 6;

std::vector<double> batch_contribution(int T, const MetricSums& m, const PositionProfile& p) {
  std::vector<double> v = {double(T), m.loss_sum, double(m.scored_tokens), double(m.correct_tokens),
                           double(m.examples), double(m.exact_examples)};
  for (std::size_t k = 0; k < p.loss_sum.size(); ++k) {
    v.push_back(p.loss_sum[k]);
    v.push_back(p.tokens[k]);
  }
  return v;
}

// Adds one batch's contribution exactly as MetricSums::add and PositionProfile::add would
// have (they add one per-batch total each), so the order of batches alone fixes the bits.
void add_contribution(const double* v, MetricSums& sums, PositionProfile& profile) {
  sums.loss_sum += v[1];
  sums.scored_tokens += long(v[2]);
  sums.correct_tokens += long(v[3]);
  sums.examples += long(v[4]);
  sums.exact_examples += long(v[5]);
  for (std::size_t k = 0; k < profile.loss_sum.size(); ++k) {
    profile.loss_sum[k] += v[kBatchHeader + 2 * k];
    profile.tokens[k] += v[kBatchHeader + 2 * k + 1];
  }
}

}  // namespace

void evaluate_length(PreparedRun& run, const Task& task, int length, EvalSeries& out) {
  dist::SingleProcess one;
  evaluate_length(run, *run.model, task, length, out, one);
}

void evaluate_length(PreparedRun& run, Transformer& model, const Task& task, int length,
                     EvalSeries& out, dist::Communicator& comm) {
  const RunSpec& spec = run.spec;
  // The task as trained keeps its historical stream name; each variant that changes the
  // task has its own, and an encoder-only variant reads the as-trained batches (paired).
  bool same_task = out.variant.empty();
  for (const EvalVariant& v : spec.eval.variants)
    if (v.name == out.variant) same_task = v.same_task;
  const std::string stream = same_task ? "eval/" : "eval/" + out.variant + "/";
  Rng rng = Rng::derive(spec.seed, stream + std::to_string(length));
  std::vector<std::uint8_t> correct;
  RealBuffer position_loss;
  // Buckets up to the longest sequence this length can give (batches may be padded less).
  const int longest = task.sequence_length(length);
  // This rank's batches (i mod ranks = rank), their contributions one after another.
  std::vector<double> mine;
  for (int i = 0; i < spec.eval.batches; ++i) {
    // Every rank draws every batch: the stream is sequential, so batch i needs the ones before.
    Batch batch = task.make_batch(rng, Split::Eval, eval_batch_size(spec.eval, longest), length, length);
    if (i % comm.size() != comm.rank()) continue;
    // Randomized positions are drawn in evaluation too (as Ruoss et al. do), from a stream
    // of their own per batch (encoders/randomized_positions.h).
    if (const int P = model.encoder().randomized_max_position()) {
      Rng position_rng = Rng::derive(spec.seed, "positions/" + stream + std::to_string(length) +
                                                    "/" + std::to_string(i));
      batch.positions = draw_positions(position_rng, batch.seq_len, P);
    }
    // Streaming attention: memory linear in the length, so long lengths can be evaluated.
    model.forward_inference(batch.inputs.data(), batch.batch_size, batch.seq_len, {},
                            batch.positions.empty() ? nullptr : batch.positions.data());
    const double loss = model.loss(batch.targets.data(), batch.loss_mask.data(), &correct,
                                        &position_loss);
    MetricSums sums;
    PositionProfile profile(longest);
    sums.add(loss, correct, batch.loss_mask, batch.batch_size, batch.seq_len);
    profile.add(position_loss.data(), batch.loss_mask.data(), batch.batch_size, batch.seq_len);
    const std::vector<double> v = batch_contribution(batch.seq_len, sums, profile);
    mine.insert(mine.end(), v.begin(), v.end());
  }
  const std::string bytes(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(double));
  const std::vector<std::string> parts = comm.gather(bytes, 0);
  if (comm.rank() != 0) return;

  MetricSums sums;
  PositionProfile profile(longest);
  const std::size_t width = kBatchHeader + 2 * profile.loss_sum.size();
  int T = 0;
  for (int i = 0; i < spec.eval.batches; ++i) {  // in batch order, whichever rank made it
    const std::string& part = parts[std::size_t(i % comm.size())];
    const std::size_t at = std::size_t(i / comm.size()) * width * sizeof(double);
    std::vector<double> v(width);
    std::memcpy(v.data(), part.data() + at, width * sizeof(double));
    T = int(v[0]);
    add_contribution(v.data(), sums, profile);
  }
  out.by_position.push_back({profile.bucket_start, profile.bucket_end, profile.mean_loss(),
                             profile.tokens});
  out.length.push_back(length);
  out.sequence_length.push_back(T);
  out.loss.push_back(sums.loss());
  out.token_accuracy.push_back(sums.token_accuracy());
  out.exact_match.push_back(task.has_exact_match() ? sums.exact_match() : NAN);
  out.perplexity.push_back(std::exp(sums.loss()));
}

namespace {

// Consecutive skipped updates after which train.on_nonfinite: skip_step gives up: the
// model itself is then non-finite or the run cannot recover.
constexpr int kMaxConsecutiveSkips = 100;

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Every evaluation metric NaN at every length: a diverged run's model is not evaluated.
void fill_not_evaluated(EvalSeries& e, const std::vector<int>& lengths) {
  for (int L : lengths) {
    e.length.push_back(L);
    e.sequence_length.push_back(NAN);
    e.loss.push_back(NAN);
    e.token_accuracy.push_back(NAN);
    e.exact_match.push_back(NAN);
    e.perplexity.push_back(NAN);
  }
}

}  // namespace

RunRecord train_and_evaluate(PreparedRun& run, const TrainOptions& options) {
  const RunSpec& spec = run.spec;
  const TrainSpec& ts = spec.train;
  dist::Communicator& comm = options.comm ? *options.comm : dist::world();
  int threads = ts.threads;
  if (threads == 0) {  // auto: train/thread_choice.h
    const double flops = run_step_flops(run.model->config(), ts, comm.size(),
                                        run.task->sequence_length(run.task->max_train_length()));
    threads = auto_threads(flops, system_usable_cpus(), comm.local_size(), options.max_threads,
                           std::getenv("OMP_NUM_THREADS"));
    // The ranks on a machine share its cores; rank 0's count for all (thread counts change
    // the rounding, and the ranks must compute alike).
    if (comm.size() > 1) comm.broadcast(&threads, sizeof threads, 0);
  }
  omp_set_num_threads(threads);

  RunRecord record;
  record.experiment_name = spec.experiment_name;
  record.run_name = spec.run_name;
  record.encoder = spec.encoder.name;
  record.task = spec.task.name;
  record.config_yaml = spec.resolved_yaml;
  record.seed = spec.seed;
  record.parameter_count = static_cast<long>(run.model->params().count());
  record.threads = omp_get_max_threads();
  record.has_exact_match = run.task->has_exact_match();
  record.train_length = run.task->max_train_length();

  Transformer& model = *run.model;
  ParameterSet& params = model.params();
  AdamW optimizer(params, AdamWConfig{ts.beta1, ts.beta2, ts.eps, ts.weight_decay});
  const bool distributed = comm.size() > 1;
  BatchGradientComputer gradient(comm, ts.micro_batches);
  record.ranks = comm.size();
  TrainLoopState state;
  state.batch_rng = Rng::derive(spec.seed, "train");
  const bool checkpointing = !options.checkpoint_path.empty();
  if (checkpointing && options.resume && std::filesystem::exists(options.checkpoint_path)) {
    if (!distributed) {
      read_checkpoint(options.checkpoint_path, spec, state, params, optimizer, record);
    } else {  // every rank reads it; all go on only if all could
      std::string failure;
      bool config_error = false;
      try {
        read_checkpoint(options.checkpoint_path, spec, state, params, optimizer, record);
      } catch (const ConfigError& e) {
        failure = e.what();
        config_error = true;
      } catch (const std::exception& e) {
        failure = e.what();
      }
      const dist::Agreement verdict = dist::agree(comm, failure);
      if (!verdict.failure.empty())
        throw RanksFailed(verdict.failure, verdict.all_failed && config_error ? 2 : 1);
    }
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto window_start = start;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  // Adds the current logging window to the /train curve.
  const auto log_window = [&](int steps_done, double lr, double grad_norm) {
    const double window_seconds = seconds_since(window_start);
    const double elapsed = state.elapsed_before + seconds_since(start);
    Progress p;
    p.step = steps_done;
    p.total_steps = ts.steps;
    p.loss = state.window_loss / state.window_steps;
    p.lr = lr;
    p.tokens_per_second = window_seconds > 0 ? state.window_tokens / window_seconds : 0;
    p.elapsed_seconds = elapsed;
    p.eta_seconds = elapsed / steps_done * (ts.steps - steps_done);
    record.step.push_back(p.step);
    record.loss.push_back(p.loss);
    record.lr.push_back(lr);
    record.grad_norm.push_back(grad_norm);
    record.tokens_per_second.push_back(p.tokens_per_second);
    record.elapsed_seconds.push_back(elapsed);
    if (options.progress) options.progress(p);
    window_start = Clock::now();
    state.window_loss = 0;
    state.window_tokens = 0;
    state.window_steps = 0;
  };

  for (int step = state.next_step; step < ts.steps; ++step) {
    // Every rank draws the whole batch (the same examples as one process would) and
    // computes its share of the gradient; see train/batch_gradient.h.
    Batch batch = run.task->make_batch(state.batch_rng, Split::Train, ts.batch_size,
                                       run.task->min_train_length(),
                                       run.task->max_train_length());
    // Randomized positions: one array per step for the whole batch, from the step's own
    // stream (encoders/randomized_positions.h); the batch stream is untouched.
    if (const int P = model.encoder().randomized_max_position()) {
      Rng position_rng = Rng::derive(spec.seed, "positions/train/" + std::to_string(step));
      batch.positions = draw_positions(position_rng, batch.seq_len, P);
    }
    const int local_stop = options.stop_signal ? int(*options.stop_signal) : 0;
    // Gradient, clip, schedule and (when finite) the AdamW update: train/train_step.h.
    const StepResult result = train_step(model, gradient, optimizer, ts, step, batch, local_stop);
    const BatchGradient& step_gradient = result.gradient;
    const double loss = step_gradient.loss;
    record.communication_seconds += step_gradient.comm_seconds;
    const double grad_norm = result.grad_norm;
    const double lr = result.lr;
    state.next_step = step + 1;
    if (!result.updated) {
      const std::string what = std::string(std::isfinite(loss) ? "gradient norm " : "loss ") +
                               number(std::isfinite(loss) ? grad_norm : loss) + " at step " +
                               std::to_string(step + 1);
      const bool skip = ts.on_nonfinite == "skip_step" &&
                        ++state.consecutive_skips < kMaxConsecutiveSkips;
      if (!skip) {
        record.status = "diverged";
        record.status_detail =
            "non-finite " + what + "; last finite loss " +
            (std::isnan(state.last_finite_loss) ? std::string("none")
                                                : number(state.last_finite_loss)) +
            (ts.on_nonfinite == "skip_step"
                 ? " (" + std::to_string(kMaxConsecutiveSkips) + " updates skipped in a row)"
                 : "");
        if (state.window_steps > 0) log_window(step, lr, NAN);
        break;
      }
      ++state.skipped_steps;  // the update is skipped; the step still counts
    } else {
      state.consecutive_skips = 0;
      state.last_finite_loss = loss;
      state.window_loss += loss;
      state.window_tokens += long(batch.batch_size) * batch.seq_len;
      ++state.window_steps;
    }
    const bool last = (step + 1 == ts.steps);
    if (((step + 1) % ts.log_every == 0 || last) && state.window_steps > 0)
      log_window(step + 1, lr, grad_norm);
    if (!checkpointing) continue;
    // Several ranks stop at the step they agreed on; one process reads its flag now.
    const int signal = distributed ? step_gradient.stop_signal
                                   : (options.stop_signal ? int(*options.stop_signal) : 0);
    const bool due = spec.output.checkpoint_every > 0 &&
                     (step + 1) % spec.output.checkpoint_every == 0 && !last;
    if (signal != 0 || due) {
      TrainLoopState snapshot = state;
      snapshot.elapsed_before += seconds_since(start);
      if (comm.rank() == 0)  // the ranks' states are identical: one file, on the shared disk
        write_checkpoint(options.checkpoint_path, spec, snapshot, params, optimizer, record);
      if (signal != 0) throw TrainingInterrupted(signal, step + 1, options.checkpoint_path);
    }
  }
  record.skipped_steps = state.skipped_steps;
  // Every rank took the same steps from the same gradients; a difference here means the
  // ranks do not compute alike (another binary or thread count on some node).
  if (distributed && !dist::same_on_all_ranks(comm, params.values().data(),
                                              params.values().size() * sizeof(Real)))
    throw std::runtime_error("the MPI ranks' parameters differ after training; run every rank with "
                             "the same poslab binary and train.threads");

  if (record.status == "diverged") {
    fill_not_evaluated(record.eval, run.eval_lengths);
    for (std::size_t i = 0; i < run.eval_variants.size(); ++i) {
      EvalSeries series;
      series.variant = spec.eval.variants[i].name;
      series.task_options = spec.eval.variants[i].overrides_yaml;
      fill_not_evaluated(series, run.eval_lengths);
      record.eval_variants.push_back(std::move(series));
    }
    record.encoder_arrays = model.encoder().describe();
    return record;
  }

  for (int L : run.eval_lengths) evaluate_length(run, model, *run.task, L, record.eval, comm);
  for (std::size_t i = 0; i < run.eval_variants.size(); ++i) {
    EvalSeries series;
    series.variant = spec.eval.variants[i].name;
    series.task_options = spec.eval.variants[i].overrides_yaml;
    Transformer* variant_model = run.eval_variant_models[i].get();
    if (variant_model) load_trained_parameters(run, *variant_model);
    Transformer& reader = variant_model ? *variant_model : model;
    for (int L : run.eval_lengths)
      evaluate_length(run, reader, *run.eval_variants[i], L, series, comm);
    record.eval_variants.push_back(std::move(series));
  }
  for (std::size_t i = 0; i < record.eval.loss.size(); ++i)
    if (!std::isfinite(record.eval.loss[i])) {
      record.status = "diverged";
      record.status_detail = "non-finite evaluation loss at length " +
                             std::to_string(int(record.eval.length[i]));
      break;
    }
  if (comm.rank() != 0) return record;  // rank 0 holds the metrics and writes the file
  record.encoder_arrays = model.encoder().describe();
  if (!run.probes.empty() && record.status == "complete") record.probes = run_probes(run.probes, collect_probe_input(run, record));
  if (spec.output.checkpoint) record.model_params = parameters_as_arrays(params);
  return record;
}

}  // namespace poslab
