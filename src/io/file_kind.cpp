#include "io/file_kind.h"

#include <cstdint>

#include "io/h5file.h"

namespace poslab {

void write_file_identity(H5Writer& w, const std::string& kind) {
  w.attr("/", "schema_version", std::int64_t(kSchemaVersion));
  w.attr("/", "file_kind", kind);
  w.attr("/", "poslab_version", std::string(POSLAB_VERSION));
}

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
