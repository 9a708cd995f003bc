#include "io/file_kind.h"

#include "io/h5file.h"

namespace poslab {

std::string file_kind(const std::string& path) {
  H5Reader reader(path);
  if (reader.has_attr("/", "file_kind")) return reader.attr_string("/", "file_kind");
  if (!reader.has_attr("/", "schema_version")) return "";
  // Written by a poslab from before file_kind: tell the three layouts apart.
  if (reader.is_group("/train") && reader.is_group("/eval")) return kFileKindRunResults;
  if (reader.has_attr("/", "matrix_source")) return kFileKindProbe;
  return kFileKindEncoding;
}

}  // namespace poslab
