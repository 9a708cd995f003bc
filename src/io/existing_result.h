#pragma once
// What a results path already holds, judged against the run that is about to be made: lets
// `poslab sweep` skip exactly the runs whose results are there and still valid.
//
// A file counts as this run's result only if it is a run's results file (root attribute
// file_kind = "run_results"; files from before file_kind existed count when they carry a
// schema_version this build reads), finished (root attribute status = "complete" or
// "diverged"; absent means complete) and made from the same resolved configuration: its
// /config equals the requested resolved YAML, compared as YAML trees, so formatting and
// key order do not matter but every value does (train.threads included: it changes bits),
// except that a requested train.threads of auto (or 0) accepts a result made with any
// thread count: auto means the count this machine gives, recorded in the file.
#include <string>

namespace poslab {

enum class ResultState {
  missing,   // no file at the path
  complete,  // a finished run of exactly the requested configuration
  diverged,  // the same, but the run diverged: a result all the same, reported as such
  stale,     // a run's results made from another configuration (YAML or --set changed)
  unusable,  // anything else: unreadable, another schema, a probe or encoding output, ...
};

struct ExistingResult {
  ResultState state = ResultState::missing;
  // For stale: the first difference ("train.steps: 10 in the file, 12 requested");
  // for unusable: why (one line).
  std::string reason;
};

ExistingResult inspect_existing_result(const std::string& path, const std::string& requested_yaml);

// The first key path where two YAML documents differ, as "key.path: A in the file, B
// requested" ("" if they are equal as trees). Exposed for tests.
std::string first_yaml_difference(const std::string& stored_yaml, const std::string& requested_yaml);

}  // namespace poslab
