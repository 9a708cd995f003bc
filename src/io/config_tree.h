#pragma once
// Configuration trees before they are runs: a YAML mapping plus the file that set each key
// path, loaded from a file with its `include:`s merged underneath (load_tree), deep-merged
// with other trees (--set overrides, `runs:` items), and size limits that keep a small
// hostile file (aliases, "billion laughs") from becoming a huge tree. Used by the experiment
// loader (io/config.cpp) and the overrides (io/config_overrides.cpp); not by plugins.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config_node.h"

namespace poslab {

// A configuration tree and, for every key path in it, the file that last set it.
struct Tree {
  YAML::Node yaml = YAML::Node(YAML::NodeType::Map);
  KeyOrigins origins;
};

// Deep-merges mapping `src` into `dst` (src wins). Mappings merge key by key; scalars and
// sequences are replaced whole, so a later file's list never concatenates. A mapping that
// already existed keeps the origin of the file that introduced it; every replaced value
// takes its origins from `src_origins`.
void merge_into(Tree& dst, const YAML::Node& src, const KeyOrigins& src_origins);

// Forgets the origins of `path` and everything below it (the value is being replaced).
void erase_subtree(KeyOrigins& origins, const std::string& path);

// Records `file` as the origin of every key path in one file's mapping (below `prefix`).
// Rejects what yaml-cpp lets through silently: duplicate and non-scalar keys.
void record_origins(const YAML::Node& map, const std::string& prefix, const std::string& file,
                    KeyOrigins& origins);

// Loads `file` with its includes merged underneath it (relative to the including file,
// in order, the including file last so that it wins). `stack` holds the files being
// loaded (display name, canonical name) so that a cycle is reported instead of recursing.
Tree load_tree(const std::string& file, std::vector<std::pair<std::string, std::string>>& stack);

// ---- Size limits -------------------------------------------------------------------------
inline constexpr std::uintmax_t kMaxConfigBytes = 4u << 20;
inline constexpr std::size_t kMaxConfigNodes = 100000;
inline constexpr int kMaxConfigDepth = 64;
// runs: and eval.variants copy a section once per item; their product is bounded too.
inline constexpr std::size_t kMaxExpandedNodes = 1000000;
inline constexpr std::size_t kMaxVariants = 100;

// The number of nodes of `node` with every alias counted at each use, or `limit` + 1 as
// soon as it is larger (also when nesting passes kMaxConfigDepth, which a cycle of
// aliases would do), so that counting a hostile tree costs at most `limit` steps.
std::size_t expanded_size(const YAML::Node& node, std::size_t limit, int depth = 0);

// "" if `node` is within the limits, else why not (for "<where>: <why>").
std::string size_problem(const YAML::Node& node);

}  // namespace poslab
