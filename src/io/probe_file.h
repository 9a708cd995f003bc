#pragma once
// The file `poslab probe MATRIX --out FILE.h5` writes (file_kind "probe"; docs/design.md,
// "HDF5 layouts"). Its /probes/<name>/ groups have the results file's layout
// (io/probe_groups.h), so the same tools read both:
//   /          attrs: schema_version, file_kind = "probe", poslab_version,
//              matrix_source (the MATRIX argument as given), matrix_rows, matrix_cols,
//              overrides (the --set options joined by spaces; only when there were any)
//   /probes/<name>/  one group per probe that ran: scalars as attributes and scalar
//                    datasets, arrays as datasets with a "description" attribute
// Written to a temp file and renamed when complete (io/h5file.h), so it is whole or absent.
#include <string>
#include <vector>

#include "io/run_record.h"

namespace poslab {

struct ProbeFileContents {
  std::string matrix_source;           // e.g. "gpt2.npy" or "enc.h5:/position_matrix"
  long matrix_rows = 0, matrix_cols = 0;
  std::vector<std::string> overrides;  // the --set options, in the order given
  std::vector<ProbeRecord> probes;     // in the order they ran
};

void write_probe_file(const std::string& path, const ProbeFileContents& contents);

}  // namespace poslab
