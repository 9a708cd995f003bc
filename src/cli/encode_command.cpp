// poslab encode: write what a scheme computes for a given length and width — the position
// matrix of sinusoidal/learned, and whatever encode() provides for other schemes (bias
// matrices, rotation angles) — to an HDF5 file (layout: io/encode_file.h), for plots and
// probes.
#include <iostream>

#include "cli/commands.h"
#include "cli/options_util.h"
#include "cli/output_file.h"
#include "encoders/encoder.h"
#include "io/encode_file.h"

namespace poslab::cli {

namespace {

// "--set base=100" or "--set encoder.base=100" -> {name: NAME, base: 100}
YAML::Node encoder_section(const std::string& name, const std::vector<std::string>& sets) {
  YAML::Node node;
  node["name"] = name;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    std::string key = s.substr(0, eq);
    if (eq == std::string::npos || key.empty())
      throw ConfigError("--set: '" + s + "': expected key=value (an encoder option)");
    if (key.rfind("encoder.", 0) == 0) key = key.substr(8);
    node[key] = YAML::Load(s.substr(eq + 1));
  }
  return node;
}

}  // namespace

int encode_command(const std::vector<std::string>& args) {
  po::options_description options("poslab encode options");
  std::string encoder, out;
  int length = 0, dim = 0, heads = 1, seed = 0;
  bool bidirectional = false, force = false;
  std::vector<std::string> sets;
  options.add_options()
      ("encoder", po::value(&encoder)->required(), "encoder name (see poslab list encoders)")
      ("length", po::value(&length)->required(), "number of positions L")
      ("dim", po::value(&dim)->required(), "model width d")
      ("heads", po::value(&heads)->default_value(1), "attention heads (for per-head schemes)")
      ("bidirectional", po::bool_switch(&bidirectional), "encode for a bidirectional model")
      ("seed", po::value(&seed)->default_value(0), "seed for initialising learned tables")
      ("set", po::value(&sets)->composing(), "encoder option: --set base=100")
      ("out", po::value(&out)->required(), "output HDF5 file")
      ("force", po::bool_switch(&force), "overwrite an existing --out file");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse_args("encode", "poslab encode --encoder NAME --length L --dim D [--set key=value] --out FILE.h5 [--force]",
                  args, options, positional, vm))
    return 0;
  if (length < 1) throw ConfigError("poslab encode: --length: expected an integer >= 1");
  if (dim < 1) throw ConfigError("poslab encode: --dim: expected an integer >= 1");
  if (heads < 1 || dim % heads != 0)
    throw ConfigError("poslab encode: --heads: expected a divisor of --dim");
  check_output_file("encode", out, force);

  auto origins = std::make_shared<KeyOrigins>();
  const PluginSpec spec{encoder, ConfigNode(encoder_section(encoder, sets), "encoder", origins, "--set")};
  const ModelDims dims{dim, heads, dim / heads, 1, !bidirectional};
  auto scheme = EncoderRegistry::instance().build(spec, dims);
  ParameterSet params;
  scheme->declare_parameters(params);
  params.allocate();
  Rng rng = Rng::derive(seed, "init");
  params.initialize(rng);
  scheme->check_length(length);

  const auto arrays = scheme->encode(length);
  if (arrays.empty())
    throw ConfigError("poslab encode: --encoder: '" + encoder +
                      "' has no position-dependent quantity to write");
  write_encoding_file(out, {encoder, length, dim, heads, arrays});
  std::cout << "wrote " << out << ":";
  for (const auto& a : arrays) {
    std::cout << " /" << a.name << " [";
    for (std::size_t i = 0; i < a.shape.size(); ++i) std::cout << (i ? "," : "") << a.shape[i];
    std::cout << "]";
  }
  std::cout << "\n";
  return 0;
}

}  // namespace poslab::cli
