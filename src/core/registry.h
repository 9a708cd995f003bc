#pragma once
// A name -> factory registry shared by encoders, tasks and probes. Plugins register
// themselves from their own file with a static Registrar, so adding a plugin touches one
// file. Each entry carries its option declarations for validation and `poslab list`.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"

namespace poslab {

template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(const Options&, Args...)>;
  struct Entry {
    std::string name;
    std::string summary;  // one line: what it is
    std::vector<OptionSpec> options;
    Factory make;
    std::string source_file = "";  // where it was registered (__FILE__), for error messages
  };

  static Registry& instance() {
    static Registry registry;
    return registry;
  }

  // A second plugin under a name already taken is a programming error that would silently
  // replace the first: stop at start-up and name both files.
  void add(Entry entry) {
    if (const Entry* existing = find(entry.name)) {
      std::fprintf(stderr, "poslab: plugin name '%s' is registered twice: in %s and in %s\n",
                   entry.name.c_str(), existing->source_file.c_str(), entry.source_file.c_str());
      std::abort();
    }
    entries_[entry.name] = std::move(entry);
  }
  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }

  // Validates the section (its `name` and options) and builds the plugin.
  std::unique_ptr<Base> build(const PluginSpec& spec, Args... args) const {
    const Entry* entry = find(spec.name);
    if (!entry) {
      std::string known;
      for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
      spec.node.child("name").fail("expected one of " + known + ", got '" + spec.name + "'");
    }
    return entry->make(parse_options(spec.node, entry->options), args...);
  }

 private:
  std::map<std::string, Entry> entries_;
};

template <class RegistryT>
struct Registrar {
  explicit Registrar(typename RegistryT::Entry entry) {
    RegistryT::instance().add(std::move(entry));
  }
};

}  // namespace poslab
