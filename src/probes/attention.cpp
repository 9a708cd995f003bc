// attention — where does each head look, by distance?
//
// Question: which heads attend locally, which spread out, and which park their attention
//           on the first token (an "attention sink", or a way to count positions)? A
//           position scheme shapes exactly this: ALiBi and T5 biases favour short
//           distances, NoPE must find position some other way.
// Method:   ModelActivations::attention[l] holds layer l's attention probabilities α,
//           flat [B, H, T, T] (query i = row, key j = column). Per layer l and head h,
//           averaged over the B examples and the T queries i (each query weighted equally):
//             distance  d_i = Σ_j α_ij |i − j|           (mean attention distance, in tokens)
//             entropy   e_i = −Σ_j α_ij log α_ij         (nats; 0·log 0 = 0)
//           and, averaged over queries i ≥ 1 only,
//             first-token mass  α_i0
//           (query 0 is excluded everywhere for this one: under causal attention its only
//           key is itself, so α_00 = 1 says nothing; bidirectional maps are treated the same
//           way so that the two read alike).
// Metrics:  arrays mean_distance [L, H], entropy [L, H], first_token_mass [L, H], and
//           example_map [L, H, T', T'] — example 0's maps, the top-left T' = min(T,
//           max_map_length) block (kept small: the file holds one per head).
//           Scalars: overall_mean_distance, overall_entropy, overall_first_token_mass
//           (means over all layers and heads); mean_distance_uniform, entropy_uniform,
//           first_token_mass_uniform: the same three for UNIFORM attention over the
//           allowed keys (what a head that ignores position would give), computed
//           exactly for this T and masking (causal: query i spreads 1/(i+1) over keys
//           0..i; bidirectional: 1/T over all keys):
//             causal         distance (T−1)/4,     entropy (1/T) Σ_i log(i+1),
//                            first-token mass (1/(T−1)) Σ_{i≥1} 1/(i+1)
//             bidirectional  distance (T²−1)/(3T), entropy log T,   first-token mass 1/T
//           and distance_ratio = overall_mean_distance / mean_distance_uniform,
//           entropy_ratio = overall_entropy / entropy_uniform (NaN when the uniform value
//           is 0, i.e. T = 1). Also layers, heads, length (T), causal (1/0).
// Reading:  a head with distance ≈ 0 and entropy ≈ 0 attends to its own token; small
//           distance with low entropy is a local (previous-token-like) head; distance and
//           entropy both near the uniform values is a head that spreads evenly, ignoring
//           position; distance near uniform with low entropy is a sharp head whose target
//           does not depend on distance (content-based). first_token_mass near 1 is a sink
//           on token 0. distance_ratio < 1: the model attends more locally than uniform
//           attention would. Statistics are over all real queries, scored or not.
// Padding:  only real queries count (i < lengths[b], ModelActivations::lengths): the model
//           also runs on the PAD positions after a shorter example, and their rows would
//           enter every mean (counting: programs of one statement count differ in tokens).
//           Keys are every key the model attended to: under causal attention a real query
//           sees real keys only; poslab's bidirectional attention has no padding mask, so
//           there its keys include the PADs. The uniform reference is averaged over the
//           same real queries of each example (causal: query i of any example spreads over
//           keys 0..i; bidirectional: over all T keys).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "probes/probe.h"

namespace poslab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct UniformReference {
  double distance = 0.0, entropy = 0.0, first_token_mass = kNaN;
};

// The three statistics of uniform attention over the allowed keys, averaged the same way
// as the measured ones (see the header).
// Over the real queries i < n_b of every example (all T when lengths is empty), each
// weighted equally; first-token mass over real queries i ≥ 1.
UniformReference uniform_reference(const ModelActivations& a) {
  const int T = a.length;
  double distance = 0.0, entropy = 0.0, first = 0.0, queries = 0.0, later = 0.0;
  for (int b = 0; b < a.examples; ++b)
    for (int i = 0; i < a.length_of(b); ++i) {
      queries += 1;
      if (a.causal) {  // uniform over keys 0..i
        distance += i / 2.0;
        entropy += std::log(i + 1.0);
        if (i >= 1) first += 1.0 / (i + 1.0), later += 1;
      } else {  // uniform over all T keys: mean |i − j| = (i(i+1) + (T−1−i)(T−i)) / (2T)
        distance += (double(i) * (i + 1) + double(T - 1 - i) * (T - i)) / (2.0 * T);
        entropy += std::log(double(T));
        if (i >= 1) first += 1.0 / T, later += 1;
      }
    }
  UniformReference u;
  u.distance = queries > 0 ? distance / queries : kNaN;
  u.entropy = queries > 0 ? entropy / queries : kNaN;
  if (later > 0) u.first_token_mass = first / later;
  return u;
}

double ratio(double value, double reference) {
  return reference > 0 && std::isfinite(value) ? value / reference : kNaN;
}

class AttentionProbe : public Probe {
 public:
  explicit AttentionProbe(const Options& o) : max_map_length_(o.get_int("max_map_length")) {}

  bool applies(const ProbeInput& in) const override {
    if (!in.activations || in.activations->attention.empty()) return false;
    const ModelActivations& a = *in.activations;
    if (a.examples < 1 || a.heads < 1 || a.length < 1) return false;
    const std::size_t size = std::size_t(a.examples) * a.heads * a.length * a.length;
    for (const auto& layer : a.attention)
      if (layer.size() != size) return false;
    if (!a.lengths.empty()) {
      if (a.lengths.size() != std::size_t(a.examples)) return false;
      for (int n : a.lengths)
        if (n < 0 || n > a.length) return false;
    }
    return true;
  }

  ProbeResult run(const ProbeInput& in) const override {
    const ModelActivations& a = *in.activations;
    const int L = int(a.attention.size()), B = a.examples, H = a.heads, T = a.length;
    const std::size_t TT = std::size_t(T) * T;
    const int Tm = std::min(T, max_map_length_);

    // [L, H], row-major (layer-major).
    std::vector<double> distance(std::size_t(L) * H), entropy(distance.size()),
        first_mass(distance.size(), kNaN);
    NamedArray map{"example_map", {}, {std::size_t(L), std::size_t(H), std::size_t(Tm), std::size_t(Tm)},
                   "[L, H, T', T'] attention probabilities of example 0 (query row, key column), "
                   "the first T' = min(T, max_map_length) positions"};
    map.data.reserve(std::size_t(L) * H * Tm * Tm);

    for (int l = 0; l < L; ++l) {
      const std::vector<double>& att = a.attention[l];
      if (att.size() != std::size_t(B) * H * TT)
        throw std::invalid_argument("attention: layer " + std::to_string(l) +
                                    " probabilities are not [B, H, T, T]");
      for (int h = 0; h < H; ++h) {
        double dist_sum = 0.0, ent_sum = 0.0, first_sum = 0.0, queries = 0.0, later = 0.0;
        for (int b = 0; b < B; ++b) {
          const double* alpha = att.data() + (std::size_t(b) * H + h) * TT;  // [T, T]
          for (int i = 0; i < a.length_of(b); ++i) {  // real queries only
            queries += 1;
            later += i >= 1;
            const double* row = alpha + std::size_t(i) * T;
            for (int j = 0; j < T; ++j) {
              const double p = row[j];
              dist_sum += p * std::abs(i - j);
              if (p > 0) ent_sum -= p * std::log(p);
            }
            if (i >= 1) first_sum += row[0];
          }
        }
        const std::size_t lh = std::size_t(l) * H + h;
        distance[lh] = queries > 0 ? dist_sum / queries : kNaN;
        entropy[lh] = queries > 0 ? ent_sum / queries : kNaN;
        if (later > 0) first_mass[lh] = first_sum / later;

        const double* alpha0 = att.data() + std::size_t(h) * TT;  // example 0
        for (int i = 0; i < Tm; ++i)
          for (int j = 0; j < Tm; ++j) map.data.push_back(alpha0[std::size_t(i) * T + j]);
      }
    }

    const auto mean = [](const std::vector<double>& v) {
      double s = 0.0;
      for (double x : v) s += x;
      return v.empty() ? kNaN : s / double(v.size());
    };
    const UniformReference u = uniform_reference(a);
    ProbeResult out;
    out.scalars["layers"] = L;
    out.scalars["heads"] = H;
    out.scalars["length"] = T;
    out.scalars["causal"] = a.causal ? 1.0 : 0.0;
    out.scalars["overall_mean_distance"] = mean(distance);
    out.scalars["overall_entropy"] = mean(entropy);
    out.scalars["overall_first_token_mass"] = mean(first_mass);
    out.scalars["mean_distance_uniform"] = u.distance;
    out.scalars["entropy_uniform"] = u.entropy;
    out.scalars["first_token_mass_uniform"] = u.first_token_mass;
    out.scalars["distance_ratio"] = ratio(mean(distance), u.distance);
    out.scalars["entropy_ratio"] = ratio(mean(entropy), u.entropy);

    const std::vector<std::size_t> shape{std::size_t(L), std::size_t(H)};
    out.arrays.push_back({"mean_distance", distance, shape,
                          "[L, H] mean over examples and queries i of sum_j a_ij |i - j| (tokens)"});
    out.arrays.push_back({"entropy", entropy, shape,
                          "[L, H] mean over examples and queries i of -sum_j a_ij log a_ij (nats)"});
    out.arrays.push_back({"first_token_mass", first_mass, shape,
                          "[L, H] mean over examples and queries i >= 1 of a_i0"});
    out.arrays.push_back(std::move(map));
    return out;
  }

 private:
  int max_map_length_;
};

using Type = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    AttentionProbe, "attention",
    "per layer and head: mean attention distance, entropy, mass on the first token; example maps",
    (std::vector<OptionSpec>{
        {"max_map_length", Type::Int, "64", "store example 0's maps for at most this many positions", 1},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(AttentionProbe, "attention",
                           {KnownInput::PositionalActivations, "overall_mean_distance", 0.96, 0.97},
                           {KnownInput::PositionalActivations, "overall_entropy", 0.0, 1e-9},
                           {KnownInput::PositionlessActivations, "distance_ratio", 0.999, 1.001},
                           {KnownInput::PositionlessActivations, "entropy_ratio", 0.999, 1.001})

}  // namespace
}  // namespace poslab
