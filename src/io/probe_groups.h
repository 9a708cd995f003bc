#pragma once
// One probe's group in an HDF5 file, /probes/<name>/, in the layout of the results file
// (docs/design.md, "HDF5 layouts"): each scalar as an attribute AND as a scalar dataset, each
// array as a dataset with a "description" attribute, and a "note" attribute when the probe
// did not run. Shared by the results file (io/results.cpp) and `poslab probe --out`.
#include <string>

#include "io/h5file.h"
#include "io/run_record.h"

namespace poslab {

// Writes a NamedArray as the dataset "<group>/<name>" with its "description" attribute.
void write_named_array(H5Writer& writer, const std::string& group, const NamedArray& array);

// Writes the group "<parent>/<probe.name>" (parent e.g. "/probes").
void write_probe_group(H5Writer& writer, const ProbeRecord& probe,
                       const std::string& parent = "/probes");

}  // namespace poslab
