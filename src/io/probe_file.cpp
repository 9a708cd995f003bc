#include "io/probe_file.h"

#include <cstdint>

#include "io/file_kind.h"
#include "io/h5file.h"
#include "io/probe_groups.h"

namespace poslab {

void write_probe_file(const std::string& path, const ProbeFileContents& c) {
  H5Writer w(path);
  write_file_identity(w, kFileKindProbe);
  w.attr("/", "matrix_source", c.matrix_source);
  w.attr("/", "matrix_rows", std::int64_t(c.matrix_rows));
  w.attr("/", "matrix_cols", std::int64_t(c.matrix_cols));
  if (!c.overrides.empty()) {
    std::string joined;
    for (const auto& s : c.overrides) joined += (joined.empty() ? "" : " ") + s;
    w.attr("/", "overrides", joined);  // the --set options, for reproducing the numbers
  }
  w.create_group("/probes");
  for (const auto& probe : c.probes) write_probe_group(w, probe);
  w.commit();
}

}  // namespace poslab
