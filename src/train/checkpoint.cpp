#include "train/checkpoint.h"

#include <omp.h>

#include <cstdio>
#include <filesystem>

#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/results.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

namespace {

std::vector<double> as_doubles(const RealBuffer& v) { return {v.begin(), v.end()}; }

void restore(RealBuffer& dst, const std::vector<double>& src, const std::string& path,
             const std::string& name) {
  if (src.size() != dst.size())
    throw ConfigError(path + ": " + name + ": " + std::to_string(src.size()) +
                      " values; expected " + std::to_string(dst.size()) + " (the model's size)");
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<Real>(src[i]);
}

std::string hex_state(const Rng::State& s) {
  char buf[4 * 17 + 40];
  std::snprintf(buf, sizeof buf, "%016llx %016llx %016llx %016llx %d %a",
                (unsigned long long)s.words[0], (unsigned long long)s.words[1],
                (unsigned long long)s.words[2], (unsigned long long)s.words[3],
                s.has_spare ? 1 : 0, s.spare);
  return buf;
}

Rng::State parse_state(const std::string& text, const std::string& path) {
  Rng::State s;
  unsigned long long w[4];
  int spare_flag = 0;
  double spare = 0;
  if (std::sscanf(text.c_str(), "%llx %llx %llx %llx %d %la", &w[0], &w[1], &w[2], &w[3],
                  &spare_flag, &spare) != 6)
    throw ConfigError(path + ": /: rng_state: cannot parse '" + text + "'");
  for (int i = 0; i < 4; ++i) s.words[i] = w[i];
  s.has_spare = spare_flag != 0;
  s.spare = spare;
  return s;
}

const char* kTrainSeries[] = {"step", "loss", "lr", "grad_norm", "tokens_per_second",
                              "elapsed_seconds"};

// The six /train series of a record, in kTrainSeries order (RunRecord or const RunRecord).
template <class Record>
auto* train_series(Record& r, int i) {
  decltype(&r.step) all[] = {&r.step, &r.loss, &r.lr, &r.grad_norm, &r.tokens_per_second,
                             &r.elapsed_seconds};
  return all[i];
}

}  // namespace

std::string checkpoint_path(const std::string& dir, const std::string& run_name) {
  return (std::filesystem::path(dir) / (run_name + ".ckpt.h5")).string();
}

void write_checkpoint(const std::string& path, const RunSpec& spec, const TrainLoopState& state,
                      const ParameterSet& params, const AdamW& optimizer, const RunRecord& record) {
  H5Writer w(path);
  w.attr("/", "file_kind", std::string(kFileKindCheckpoint));
  w.attr("/", "poslab_version", std::string(POSLAB_VERSION));
  w.attr("/", "git_commit", build_git_commit());
  w.attr("/", "run_name", spec.run_name);
  w.attr("/", "next_step", std::int64_t(state.next_step));
  w.attr("/", "adam_steps", std::int64_t(optimizer.steps_taken()));
  w.attr("/", "threads", std::int64_t(omp_get_max_threads()));
  w.attr("/", "rng_state", hex_state(state.batch_rng.state()));
  w.attr("/", "window_loss", state.window_loss);
  w.attr("/", "window_tokens", std::int64_t(state.window_tokens));
  w.attr("/", "window_steps", std::int64_t(state.window_steps));
  w.attr("/", "elapsed_seconds", state.elapsed_before);
  w.attr("/", "last_finite_loss", state.last_finite_loss);
  w.attr("/", "skipped_steps", std::int64_t(state.skipped_steps));
  w.attr("/", "consecutive_skips", std::int64_t(state.consecutive_skips));
  w.write_string("/config", spec.resolved_yaml);
  w.write("/params", as_doubles(params.values()), {params.count()});
  w.write("/adam_m", as_doubles(optimizer.first_moment()), {params.count()});
  w.write("/adam_v", as_doubles(optimizer.second_moment()), {params.count()});
  w.create_group("/train");
  for (int i = 0; i < 6; ++i) {
    const std::vector<double>& series = *train_series(record, i);
    w.write(std::string("/train/") + kTrainSeries[i], series, {series.size()});
  }
  w.commit();
}

std::string checkpoint_mismatch(const std::string& path, const std::string& resolved_yaml) {
  H5Reader r(path);
  if (!r.has_attr("/", "file_kind") || r.attr_string("/", "file_kind") != kFileKindCheckpoint)
    return "not a poslab checkpoint (no file_kind \"checkpoint\")";
  const std::string version = r.attr_string("/", "poslab_version");
  const std::string commit = r.attr_string("/", "git_commit");
  if (version != POSLAB_VERSION || commit != build_git_commit())
    return "written by poslab " + version + " (commit " + (commit.empty() ? "unknown" : commit) +
           "), this is poslab " + POSLAB_VERSION + " (commit " +
           (build_git_commit().empty() ? "unknown" : build_git_commit()) +
           "); a bit-identical resume needs the same build";
  if (r.read_string("/config") != resolved_yaml)
    return "written for another configuration (the resolved YAML differs)";
  return "";
}

void read_checkpoint(const std::string& path, const RunSpec& spec, TrainLoopState& state,
                     ParameterSet& params, AdamW& optimizer, RunRecord& record) {
  if (const std::string why = checkpoint_mismatch(path, spec.resolved_yaml); !why.empty())
    throw ConfigError(path + ": " + why + " of run '" + spec.run_name +
                      "'; resume with the same build, experiment and --set options, or delete "
                      "the checkpoint to start the run over");
  H5Reader r(path);
  state.next_step = static_cast<int>(r.attr_double("/", "next_step"));
  if (state.next_step < 0 || state.next_step > spec.train.steps)
    throw ConfigError(path + ": /: next_step " + std::to_string(state.next_step) +
                      " is outside 0.." + std::to_string(spec.train.steps));
  state.batch_rng.set_state(parse_state(r.attr_string("/", "rng_state"), path));
  state.window_loss = r.attr_double("/", "window_loss");
  state.window_tokens = static_cast<long>(r.attr_double("/", "window_tokens"));
  state.window_steps = static_cast<int>(r.attr_double("/", "window_steps"));
  state.elapsed_before = r.attr_double("/", "elapsed_seconds");
  state.last_finite_loss = r.attr_double("/", "last_finite_loss");
  state.skipped_steps = static_cast<int>(r.attr_double("/", "skipped_steps"));
  state.consecutive_skips = static_cast<int>(r.attr_double("/", "consecutive_skips"));
  restore(params.values(), r.read("/params"), path, "/params");
  restore(optimizer.first_moment(), r.read("/adam_m"), path, "/adam_m");
  restore(optimizer.second_moment(), r.read("/adam_v"), path, "/adam_v");
  optimizer.set_steps_taken(static_cast<long>(r.attr_double("/", "adam_steps")));
  for (int i = 0; i < 6; ++i) *train_series(record, i) = r.read(std::string("/train/") + kTrainSeries[i]);
  const int threads = static_cast<int>(r.attr_double("/", "threads"));
  if (threads != omp_get_max_threads())
    std::fprintf(stderr,
                 "warning: %s was written with %d threads, resuming with %d: the rest of the "
                 "run will not be bit-identical to an uninterrupted one\n",
                 path.c_str(), threads, omp_get_max_threads());
}

}  // namespace poslab
