#pragma once
// The results file of one run (docs/design.md, "HDF5 layouts"). Written to a temp file unique
// to the writer (io/temp_files.h) and renamed when complete, so a results file is either
// whole or absent.
#include <string>

#include "io/file_kind.h"  // kSchemaVersion
#include "io/run_record.h"

namespace poslab {

void write_results(const std::string& path, const RunRecord& record);

// Throws ConfigError unless `path` is a run's results file (file_kind run_results, see
// io/file_kind.h) whose schema_version this build knows ("<path>: schema_version 7 is not
// supported; this poslab reads 1").
void check_results_schema(const std::string& path);

// The git commit of the source tree this binary was built from ("<short>-dirty" when
// tracked files had uncommitted changes; empty outside a git checkout), read at build time.
std::string build_git_commit();

}  // namespace poslab
