#pragma once
// The file `poslab encode --out FILE.h5` writes (file_kind "encoding"; docs/design.md,
// "HDF5 layouts"): what a scheme computes for one length and width, for plots
// (scripts/plot.py matrix) and for `poslab probe FILE.h5:/position_matrix`.
//   /          attrs: schema_version, file_kind = "encoding", poslab_version, encoder,
//              length, dim, heads
//   /<array>   one float64 dataset per array of the scheme's encode(length), with its
//              "description" attribute (axes and units), e.g. /position_matrix [L, d]
// Written to a temp file and renamed when complete (io/h5file.h), so it is whole or absent.
#include <string>
#include <vector>

#include "core/named_array.h"

namespace poslab {

struct EncodingFileContents {
  std::string encoder;  // the scheme's registered name
  long length = 0, dim = 0, heads = 0;
  std::vector<NamedArray> arrays;  // the scheme's encode(length), written in this order
};

void write_encoding_file(const std::string& path, const EncodingFileContents& contents);

}  // namespace poslab
