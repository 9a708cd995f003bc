#pragma once
// What an HDF5 file written by poslab holds, from its root attribute `file_kind`, and the
// one module that owns each layout (docs/design.md, "HDF5 layouts"):
//   "run_results"  a run's results file (io/results.h; what report and sweep read)
//   "probe"        `poslab probe --out`: /probes/<name>/ of an imported matrix (io/probe_file.h)
//   "encoding"     `poslab encode --out`: a scheme's arrays (io/encode_file.h)
//   "checkpoint"   `<run>.ckpt.h5` while a run trains (train/checkpoint.h; it holds the
//                  model's parameters, so it lives with the numeric code, not here)
// Readers check it so that a probe or encode output saved in a results folder is never
// mistaken for a finished run (e.g. by sweep's "done already" test or by report).
#include <string>

namespace poslab {

class H5Writer;

// The layout version of run_results, probe and encoding files (root `schema_version`).
inline constexpr int kSchemaVersion = 1;

inline constexpr const char* kFileKindRunResults = "run_results";
inline constexpr const char* kFileKindProbe = "probe";
inline constexpr const char* kFileKindEncoding = "encoding";
inline constexpr const char* kFileKindCheckpoint = "checkpoint";

// The root attributes every run_results, probe and encoding file starts with, in this
// order: schema_version (kSchemaVersion), file_kind (`kind`), poslab_version.
void write_file_identity(H5Writer& writer, const std::string& kind);

// The file's kind. Files written before `file_kind` existed (they all carry
// schema_version) are classified by their layout: /train and /eval -> run_results, a
// `matrix_source` root attribute -> probe, otherwise encoding. Returns "" for an HDF5
// file poslab did not write (no schema_version, no file_kind). Throws ConfigError
// "<path>: ..." if the file is missing, not HDF5 or unreadable.
std::string file_kind(const std::string& path);

}  // namespace poslab
