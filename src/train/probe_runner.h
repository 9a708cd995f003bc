#pragma once
// After training: gather what the probes may read from the trained model (its position
// matrix, its activations on a held-out batch at the training length, the evaluation
// table) and run every probe the experiment lists.
#include <memory>
#include <string>
#include <vector>

#include "io/run_record.h"
#include "probes/probe.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct PreparedRun;

struct ConfiguredProbe {
  std::string name;
  std::unique_ptr<Probe> probe;
};

// Builds (and so validates) the probes of a run spec; duplicate names are an error.
std::vector<ConfiguredProbe> build_probes(const std::vector<PluginSpec>& specs);

// The probe input of a trained run: every field filled.
ProbeInput collect_probe_input(PreparedRun& run, const RunRecord& record);

// Runs each probe on the input; a probe that does not apply leaves a group with a note.
// So does an ill-conditioned fit (after training, the run's other numbers still count),
// unless `ill_conditioned_throws`: `poslab probe` reports it as bad input instead.
std::vector<ProbeRecord> run_probes(const std::vector<ConfiguredProbe>& probes,
                                    const ProbeInput& input, bool ill_conditioned_throws = false);

}  // namespace poslab
