#pragma once
// What an HDF5 file written by poslab holds, from its root attribute `file_kind`:
//   "run_results"  a run's results file (io/results.h; what report and sweep read)
//   "probe"        `poslab probe --out`: /probes/<name>/ of an imported matrix
//   "encoding"     `poslab encode --out`: a scheme's arrays
// Readers check it so that a probe or encode output saved in a results folder is never
// mistaken for a finished run (e.g. by sweep's "done already" test or by report).
#include <string>

namespace poslab {

inline constexpr const char* kFileKindRunResults = "run_results";
inline constexpr const char* kFileKindProbe = "probe";
inline constexpr const char* kFileKindEncoding = "encoding";

// The file's kind. Files written before `file_kind` existed (they all carry
// schema_version) are classified by their layout: /train and /eval -> run_results, a
// `matrix_source` root attribute -> probe, otherwise encoding. Returns "" for an HDF5
// file poslab did not write (no schema_version, no file_kind). Throws ConfigError
// "<path>: ..." if the file is missing, not HDF5 or unreadable.
std::string file_kind(const std::string& path);

}  // namespace poslab
