#include "train/probe_runner.h"

#include <algorithm>
#include <cmath>

#include "probes/linalg.h"
#include "tasks/sequence_util.h"
#include "train/run.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

std::vector<ConfiguredProbe> build_probes(const std::vector<PluginSpec>& specs) {
  std::vector<ConfiguredProbe> probes;
  for (const auto& spec : specs) {
    for (const auto& p : probes)
      if (p.name == spec.name)
        spec.node.child("name").fail("probe '" + spec.name +
                                     "' is listed twice; expected each probe once");
    probes.push_back({spec.name, ProbeRegistry::instance().build(spec)});
  }
  return probes;
}

ProbeInput collect_probe_input(PreparedRun& run, const RunRecord& record) {
  ProbeInput input;
  Task& task = *run.task;
  Transformer& model = *run.model;
  const int train_length = task.max_train_length();
  const int T = task.sequence_length(train_length);
  input.position_matrix = model.encoder().position_matrix(T);
  input.matrix_source = "encoder";
  if (input.position_matrix) {
    // The first layer's W_Q and W_K: rows 0..D-1 and D..2D-1 of qkv.weight [3D, D].
    const int D = model.config().d_model;
    const ParameterSet& params = model.params();
    const int qkv = params.find("layers.0.attn.qkv.weight");
    if (qkv >= 0) {
      const CMapR w(params.value(qkv), 3 * D, D);
      input.first_layer_qk = QueryKeyMaps{w.topRows(D).cast<double>(),
                                          w.middleRows(D, D).cast<double>(), model.config().heads};
    }
  }

  // One held-out batch at the training length, from its own seeded stream.
  Rng rng = Rng::derive(run.spec.seed, "probes");
  const int B = std::min(run.spec.eval.batch_size, 32);
  Batch batch = task.make_batch(rng, Split::Eval, B, train_length, train_length);
  model.forward(batch.inputs.data(), batch.batch_size, batch.seq_len);
  ModelActivations acts;
  acts.examples = batch.batch_size;
  acts.length = batch.seq_len;
  acts.heads = model.config().heads;
  acts.causal = model.config().causal;
  acts.loss_mask = batch.loss_mask;
  // Real length of each example: padding is on the right and PAD is id 0 in every task,
  // so it is one past the last non-PAD input (examples of one task length can still
  // differ in tokens, e.g. counting's statements take 1 to 4 tokens).
  for (int b = 0; b < batch.batch_size; ++b) {
    int n = batch.seq_len;
    while (n > 0 && batch.inputs[std::size_t(b) * batch.seq_len + n - 1] == kPad) --n;
    acts.lengths.push_back(n);
  }
  const int N = batch.batch_size * batch.seq_len, D = model.config().d_model;
  for (int l = 0; l <= model.config().layers; ++l)
    acts.hidden.push_back(CMapR(model.hidden_state(l), N, D).cast<double>());
  const std::size_t att = std::size_t(batch.batch_size) * acts.heads * batch.seq_len * batch.seq_len;
  for (int l = 0; l < model.config().layers; ++l) {
    const Real* a = model.attention(l);
    acts.attention.emplace_back(a, a + att);
  }
  input.activations = std::move(acts);

  EvalTable table;
  table.length = record.eval.length;
  table.sequence_length = record.eval.sequence_length;
  table.loss = record.eval.loss;
  table.token_accuracy = record.eval.token_accuracy;
  table.exact_match = record.eval.exact_match;
  table.train_length = train_length;
  input.evaluation = std::move(table);
  return input;
}

std::vector<ProbeRecord> run_probes(const std::vector<ConfiguredProbe>& probes,
                                    const ProbeInput& input, bool ill_conditioned_throws) {
  std::vector<ProbeRecord> out;
  for (const auto& p : probes) {
    ProbeRecord record;
    record.name = p.name;
    if (!p.probe->applies(input)) {
      record.note = "not applicable: the run has nothing this probe reads (e.g. no position matrix)";
    } else {
      // An ill-conditioned fit (e.g. hidden states so large that the penalty vanishes) is
      // the probe's note, not the end of a run that has already trained.
      try {
        ProbeResult r = p.probe->run(input);
        record.scalars = std::move(r.scalars);
        record.arrays = std::move(r.arrays);
      } catch (const IllConditionedFit& e) {
        if (ill_conditioned_throws) throw;
        record.note = std::string("not run: ") + e.what();
      }
    }
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace poslab
