#include "io/encode_file.h"

#include <cstdint>

#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/probe_groups.h"

namespace poslab {

void write_encoding_file(const std::string& path, const EncodingFileContents& c) {
  H5Writer w(path);
  write_file_identity(w, kFileKindEncoding);
  w.attr("/", "encoder", c.encoder);
  w.attr("/", "length", std::int64_t(c.length));
  w.attr("/", "dim", std::int64_t(c.dim));
  w.attr("/", "heads", std::int64_t(c.heads));
  for (const auto& a : c.arrays) write_named_array(w, "", a);  // at the root: "/<name>"
  w.commit();
}

}  // namespace poslab
