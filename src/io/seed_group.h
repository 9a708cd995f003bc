#pragma once
// Which runs are seeds of one configuration, from what their results files store rather
// than from their names (docs/design.md, "Seeds"): two runs are repetitions of one
// configuration when their experiment (root attribute `experiment`) and their resolved
// configuration (/config) are equal once the top-level `seed` key is removed. The root
// `seed` attribute, which equals /config's seed, takes no part either. So runs named
// anything group correctly, and runs that differ in any other key (lr, an encoder option,
// the output folder) never share a row. `poslab report` and scripts/plot.py follow the
// same rule.
#include <cstdint>
#include <string>
#include <vector>

namespace poslab {

// A canonical text of the configuration without its seed, prefixed by the experiment:
// mappings with their keys sorted, at every depth; plain scalars that read as numbers
// written as the number they denote ("0.003" and "3.0e-3" agree); the top-level `seed`
// key dropped. Equal keys <=> same configuration up to the seed. Throws ConfigError
// "<where>: /config: not YAML (...): expected the resolved configuration" if the text
// does not parse, or is not a mapping.
std::string seed_group_key(const std::string& experiment, const std::string& config_yaml,
                           const std::string& where);

// The run name without the sweep's seed label "__seed-<seed>" (a whole "__"-separated
// part), e.g. "sweep__name-none__seed-2" with seed 2 -> "sweep__name-none"; a name without
// that label is returned as it is.
std::string without_seed_label(const std::string& run_name, std::uint64_t seed);

// The label of a row of seeds: their names without seed labels, each distinct name once in
// first-seen order, joined by " | " ("alpha | beta"); more than three distinct names show
// the first three and "+N more".
std::string seed_group_label(const std::vector<std::string>& names_without_seed);

}  // namespace poslab
