#include "io/probe_groups.h"

namespace poslab {

void write_named_array(H5Writer& w, const std::string& group, const NamedArray& a) {
  const std::string path = group + "/" + a.name;
  w.write(path, a.data, a.shape);
  if (!a.description.empty()) w.attr(path, "description", a.description);
}

void write_probe_group(H5Writer& w, const ProbeRecord& p, const std::string& parent) {
  const std::string group = parent + "/" + p.name;
  w.create_group(group);
  if (!p.note.empty()) w.attr(group, "note", p.note);
  for (const auto& [key, value] : p.scalars) {
    w.attr(group, key, value);
    w.write(group + "/" + key, {value}, {});  // scalar dataset too, for tools that skip attributes
  }
  for (const auto& a : p.arrays) write_named_array(w, group, a);
}

}  // namespace poslab
