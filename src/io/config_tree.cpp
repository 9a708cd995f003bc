// Configuration trees: deep merge with key origins, size limits, loading files with their
// includes (contract in io/config_tree.h).
#include "io/config_tree.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/config_text.h"

namespace poslab {

namespace fs = std::filesystem;

namespace {

bool in_subtree(const std::string& key, const std::string& path) {
  if (key.compare(0, path.size(), path) != 0) return false;
  if (key.size() == path.size()) return true;
  const char next = key[path.size()];
  return next == '.' || next == '[';
}

void copy_subtree(const KeyOrigins& from, KeyOrigins& to, const std::string& path) {
  for (auto it = from.lower_bound(path); it != from.end() && it->first.compare(0, path.size(), path) == 0; ++it)
    if (in_subtree(it->first, path)) to[it->first] = it->second;
}

// Deep-merges mapping `src` into mapping `dst` (src wins). Mappings merge key by key;
// scalars and sequences are replaced whole, so a later file's list never concatenates.
// A mapping that already existed keeps the origin of the file that introduced it (so that
// "task.name: required option missing" names the file holding the task section, not a file
// that merely added a key to it); every value that is replaced takes its origins from
// `src_origins`, so leaves and sequences name the file that set them last.
void merge_map(YAML::Node dst, const YAML::Node& src, const std::string& prefix,
               KeyOrigins& dst_origins, const KeyOrigins& src_origins) {
  for (const auto& kv : src) {
    const std::string key = kv.first.Scalar();
    const std::string path = join_key(prefix, key);
    YAML::Node existing = find_key(dst, key);
    if (existing.IsDefined() && existing.IsMap() && kv.second.IsMap()) {
      merge_map(existing, kv.second, path, dst_origins, src_origins);
    } else {
      erase_subtree(dst_origins, path);
      dst[key] = YAML::Clone(kv.second);
      copy_subtree(src_origins, dst_origins, path);
    }
  }
}

}  // namespace

// Forgets the origins of `path` and everything below it (the value is being replaced).
void erase_subtree(KeyOrigins& origins, const std::string& path) {
  for (auto it = origins.lower_bound(path); it != origins.end() && it->first.compare(0, path.size(), path) == 0;) {
    if (in_subtree(it->first, path))
      it = origins.erase(it);
    else
      ++it;
  }
}

void merge_into(Tree& dst, const YAML::Node& src, const KeyOrigins& src_origins) {
  merge_map(dst.yaml, src, "", dst.origins, src_origins);
}

// Records `file` as the origin of every key path in one file's mapping. Sequences are
// recorded as a whole (their items inherit through ConfigNode::file's walk up). Also
// rejects what yaml-cpp lets through silently: duplicate and non-scalar keys.
void record_origins(const YAML::Node& map, const std::string& prefix, const std::string& file,
                    KeyOrigins& origins) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      throw ConfigError(error_text(file, prefix, "expected keys to be plain names, got " +
                                                     describe_got(kv.first)));
    const std::string path = join_key(prefix, kv.first.Scalar());
    if (!seen.insert(kv.first.Scalar()).second)
      throw ConfigError(error_text(file, path, "duplicate key"));
    origins[path] = file;
    if (kv.second.IsMap()) record_origins(kv.second, path, file, origins);
  }
}

// ---- Size limits: a small file must not become a huge tree ------------------------------
// yaml-cpp keeps an alias (*name) as one more reference to its anchored node, and every
// later step (Clone, merging, key origins, the emitted /config) walks the tree as if each
// alias were a copy: nine levels of nine aliases ("billion laughs") turn 800 bytes into
// 10^9 nodes, minutes and gigabytes before a bad_alloc. So every parsed document is
// counted as it will be walked, stopping as soon as a limit is passed, before anything
// else touches it. Real experiments have a few hundred nodes.

// The number of nodes of `node` with every alias counted at each use, or `limit` + 1 as
// soon as it is larger (also when nesting passes kMaxConfigDepth, which a cycle of
// aliases would do), so that counting a hostile tree costs at most `limit` steps.
std::size_t expanded_size(const YAML::Node& node, std::size_t limit, int depth) {
  if (depth > kMaxConfigDepth || limit == 0) return limit + 1;
  std::size_t count = 1;
  const auto add = [&](const YAML::Node& child) {
    count += expanded_size(child, limit - count, depth + 1);
    return count <= limit;
  };
  if (node.IsSequence()) {
    for (const auto& item : node)
      if (!add(item)) return limit + 1;
  } else if (node.IsMap()) {
    for (const auto& kv : node)
      if (!add(kv.first) || !add(kv.second)) return limit + 1;
  }
  return count;
}

// "" if `node` is within the limits, else why not (for "<where>: <why>").
std::string size_problem(const YAML::Node& node) {
  if (expanded_size(node, kMaxConfigNodes) <= kMaxConfigNodes) return "";
  return "expected at most " + std::to_string(kMaxConfigNodes) + " YAML nodes nested at most " +
         std::to_string(kMaxConfigDepth) +
         " deep, counting every use of an alias (*name) as a copy; got more";
}

// ---- Loading files ---------------------------------------------------------------------

namespace {

// Reads and parses one YAML file; its top level must be a mapping (empty = {}).
YAML::Node parse_file(const std::string& file) {
  std::ifstream in;
  std::error_code error;
  // Only regular files: a FIFO or a device would block or never end.
  if (fs::is_regular_file(file, error)) in.open(file);
  if (!in.is_open()) throw ConfigError(file + ": cannot open file");
  const std::uintmax_t bytes = fs::file_size(file, error);
  if (!error && bytes > kMaxConfigBytes)
    throw ConfigError(file + ": expected a configuration file of at most " +
                      std::to_string(kMaxConfigBytes) + " bytes, got " + std::to_string(bytes));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(file + ": cannot open file");
  YAML::Node root;
  try {
    root.reset(YAML::Load(text.str()));
  } catch (const YAML::Exception& e) {
    // yaml-cpp quotes the offending character, which may be a newline.
    if (e.mark.is_null()) throw ConfigError(one_line(file + ": " + e.msg));
    throw ConfigError(one_line(file + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                               std::to_string(e.mark.column + 1) + ": " + e.msg));
  }
  const std::string problem = size_problem(root);
  if (!problem.empty()) throw ConfigError(file + ": " + problem);
  if (is_absent(root)) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    throw ConfigError(file + ": expected a mapping at the top level, got " + describe_got(root));
  return root;
}

// The files an `include:` names, resolved relative to the including file's directory.
std::vector<std::string> include_paths(const YAML::Node& root, const std::string& file) {
  const ConfigNode include(find_key(root, "include"), "include", nullptr, file);
  const YAML::Node& node = include.yaml();
  if (is_absent(node)) return {};
  const char* expected = "expected a file name or a list of file names, got ";
  std::vector<ConfigNode> entries;
  if (node.IsScalar()) {
    entries.push_back(include);
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) entries.push_back(include.item(i));
  } else {
    include.fail(expected + describe_got(node));
  }
  std::vector<std::string> out;
  const fs::path dir = fs::path(file).parent_path();
  for (const auto& entry : entries) {
    if (!entry.yaml().IsScalar() || entry.yaml().Scalar().empty())
      entry.fail(expected + describe_got(entry.yaml()));
    out.push_back((dir / entry.yaml().Scalar()).lexically_normal().string());
  }
  return out;
}

std::string canonical_name(const std::string& file) {
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(file, error);
  return error ? file : canonical.string();
}

}  // namespace

// Loads `file` with its includes merged underneath it. `stack` holds the files being
// loaded (display name, canonical name) so that a cycle is reported instead of recursing.
Tree load_tree(const std::string& file, std::vector<std::pair<std::string, std::string>>& stack) {
  const YAML::Node root = parse_file(file);
  stack.emplace_back(file, canonical_name(file));
  const ConfigNode include_node(find_key(root, "include"), "include", nullptr, file);

  Tree tree;
  for (const auto& path : include_paths(root, file)) {
    if (!fs::is_regular_file(path)) include_node.fail("cannot open '" + path + "'");
    const std::string canonical = canonical_name(path);
    for (const auto& entry : stack) {
      if (entry.second != canonical) continue;
      std::string chain;
      for (const auto& entry : stack) chain += entry.first + " -> ";
      include_node.fail("include cycle: " + chain + path);
    }
    const Tree included = load_tree(path, stack);
    merge_into(tree, included.yaml, included.origins);
  }

  YAML::Node own = YAML::Clone(root);
  own.remove("include");
  KeyOrigins own_origins;
  record_origins(own, "", file, own_origins);
  merge_into(tree, own, own_origins);
  stack.pop_back();
  return tree;
}

}  // namespace poslab
