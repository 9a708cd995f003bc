#include "io/results.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

#include "core/config_node.h"  // ConfigError
#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/probe_groups.h"
#include "poslab_git_commit.h"  // POSLAB_GIT_COMMIT, generated at build time

namespace poslab {

namespace {

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void write_series(H5Writer& w, const std::string& path, const std::vector<double>& v,
                  const std::string& units) {
  w.write(path, v, {v.size()});
  w.attr(path, "units", units);
}

// The metrics of one evaluation pass, one entry per evaluation length, under `group`.
void write_eval(H5Writer& w, const std::string& group, const EvalSeries& e) {
  w.create_group(group);
  write_series(w, group + "/length", e.length, "task length (the task's own unit)");
  write_series(w, group + "/sequence_length", e.sequence_length, "model sequence length T");
  write_series(w, group + "/loss", e.loss, "nats per scored token");
  write_series(w, group + "/token_accuracy", e.token_accuracy, "fraction of scored tokens right");
  write_series(w, group + "/exact_match", e.exact_match, "fraction of examples with every scored token right");
  write_series(w, group + "/perplexity", e.perplexity, "exp(loss)");
  // <group>/<length>/: the loss by position within the sequence at that length.
  std::set<long> written;  // a length listed twice is written once
  for (std::size_t i = 0; i < e.by_position.size() && i < e.length.size(); ++i) {
    const LossByPosition& p = e.by_position[i];
    if (!written.insert(static_cast<long>(e.length[i])).second) continue;
    const std::string g = group + "/" + std::to_string(static_cast<long>(e.length[i]));
    w.create_group(g);
    write_series(w, g + "/bucket_start", p.bucket_start, "first position of the bucket");
    write_series(w, g + "/bucket_end", p.bucket_end, "one past the last position of the bucket");
    write_series(w, g + "/loss_by_position", p.loss, "nats per scored token in the bucket (NaN: none scored)");
    write_series(w, g + "/tokens", p.tokens, "scored tokens in the bucket over all evaluation batches");
  }
}

}  // namespace

std::string build_git_commit() { return POSLAB_GIT_COMMIT; }

void write_results(const std::string& path, const RunRecord& r) {
  H5Writer w(path);
  write_file_identity(w, kFileKindRunResults);
  w.attr("/", "created", now_iso8601());
  w.attr("/", "experiment", r.experiment_name);
  w.attr("/", "run_name", r.run_name);
  w.attr("/", "encoder", r.encoder);
  w.attr("/", "task", r.task);
  w.attr("/", "seed", std::int64_t(r.seed));
  w.attr("/", "parameter_count", std::int64_t(r.parameter_count));
  w.attr("/", "threads", std::int64_t(r.threads));
  w.attr("/", "ranks", std::int64_t(r.ranks));
  if (r.ranks > 1) w.attr("/", "communication_seconds", r.communication_seconds);
  w.attr("/", "status", r.status);
  if (!r.status_detail.empty()) w.attr("/", "status_detail", r.status_detail);
  w.attr("/", "skipped_steps", std::int64_t(r.skipped_steps));
  const std::string commit = build_git_commit();
  if (!commit.empty()) w.attr("/", "git_commit", commit);
  w.write_string("/config", r.config_yaml);

  w.create_group("/train");
  write_series(w, "/train/step", r.step, "optimizer steps completed");
  write_series(w, "/train/loss", r.loss, "nats per scored token, mean since the previous log step");
  write_series(w, "/train/lr", r.lr, "learning rate at the step");
  write_series(w, "/train/grad_norm", r.grad_norm, "global L2 norm before clipping");
  write_series(w, "/train/tokens_per_second", r.tokens_per_second, "input tokens per second since the previous log step");
  write_series(w, "/train/elapsed_seconds", r.elapsed_seconds, "seconds since training started");

  write_eval(w, "/eval", r.eval);
  w.attr("/eval", "has_exact_match", std::int64_t(r.has_exact_match ? 1 : 0));
  // The longest training length in the task's unit, for marking it beside eval lengths.
  if (r.train_length > 0) w.attr("/eval", "train_length", std::int64_t(r.train_length));
  if (!r.eval_variants.empty()) {
    w.create_group("/eval/variants");
    for (const auto& v : r.eval_variants) {
      const std::string group = "/eval/variants/" + v.variant;
      write_eval(w, group, v);
      w.attr(group, "task_options", v.task_options);  // the variant's overrides, as written
    }
  }

  w.create_group("/encoder");
  w.attr("/encoder", "name", r.encoder);
  for (const auto& a : r.encoder_arrays) write_named_array(w, "/encoder", a);

  w.create_group("/probes");
  for (const auto& p : r.probes) write_probe_group(w, p);

  if (!r.model_params.empty()) {
    w.create_group("/model");
    for (const auto& a : r.model_params) write_named_array(w, "/model", a);
  }
  w.commit();
}

void check_results_schema(const std::string& path) {
  const std::string kind = file_kind(path);  // a probe or encode output is not a run
  if (kind != kFileKindRunResults)
    throw ConfigError(path + ": file_kind '" + kind + "'; expected '" + kFileKindRunResults + "' (a run's results file)");
  H5Reader reader(path);
  if (!reader.has_attr("/", "schema_version"))
    throw ConfigError(path + ": /: no schema_version attribute; expected a poslab results file");
  // Compared as read: a damaged value (NaN, 1e300) must not go through an int conversion.
  const double version = reader.attr_double("/", "schema_version");
  if (version != kSchemaVersion) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", version);
    throw ConfigError(path + ": schema_version " + text + " is not supported; this poslab reads " +
                      std::to_string(kSchemaVersion));
  }
}

}  // namespace poslab
