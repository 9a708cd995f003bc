#include "model/memory_estimate.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

constexpr std::size_t kSaturated = std::numeric_limits<std::size_t>::max();

// a·b and a+b, stuck at SIZE_MAX instead of wrapping around.
std::size_t mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > kSaturated / a) return kSaturated;
  return a * b;
}
std::size_t add(std::size_t a, std::size_t b) { return b > kSaturated - a ? kSaturated : a + b; }

std::size_t bytes_of(const std::vector<ActivationBuffer>& buffers) {
  std::size_t total = 0;
  for (const auto& b : buffers) total = add(total, mul(b.elements, sizeof(Real)));
  return total;
}

// The first number on the line of `file` that starts with `key` (e.g. "MemAvailable:"),
// times `unit`; nothing if the file or the key is missing or the value is not a number.
std::optional<std::size_t> read_keyed_value(const std::string& file, const std::string& key,
                                            std::size_t unit) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    unsigned long long value = 0;
    if (fields >> value) return mul(std::size_t(value), unit);
    return std::nullopt;
  }
  return std::nullopt;
}

// The single number a cgroup file holds; nothing for "max" (no limit) or a missing file.
std::optional<std::size_t> read_number(const std::string& file) {
  std::ifstream in(file);
  unsigned long long value = 0;
  if (in >> value) return std::size_t(value);
  return std::nullopt;
}

// Room left under a cgroup limit: limit − (usage − inactive file cache), since the kernel
// reclaims inactive page cache before it refuses memory. Limits near 2^63 mean "none".
std::optional<std::size_t> cgroup_room(const std::string& limit_file, const std::string& usage_file,
                                       const std::string& stat_file,
                                       const std::string& inactive_key) {
  const auto limit = read_number(limit_file);
  if (!limit || *limit >= (std::size_t(1) << 60)) return std::nullopt;
  std::size_t usage = read_number(usage_file).value_or(0);
  const std::size_t inactive = read_keyed_value(stat_file, inactive_key, 1).value_or(0);
  usage -= std::min(usage, inactive);
  return *limit - std::min(*limit, usage);
}

}  // namespace

std::vector<ActivationBuffer> activation_buffers(const TransformerConfig& c, int B, int T) {
  const std::size_t b = std::size_t(std::max(B, 0)), t = std::size_t(std::max(T, 0));
  const std::size_t N = mul(b, t), D = std::size_t(c.d_model), F = std::size_t(c.d_ff),
                    V = std::size_t(c.vocab_size), H = std::size_t(c.heads),
                    L = std::size_t(c.layers);
  const std::size_t ND = mul(N, D), NF = mul(N, F), scores = mul(mul(mul(b, H), t), t);
  // Transformer::resize(), in its order. Per layer (LayerActs, times L):
  //   x_in ln1 q k v heads_out att x_mid ln2 [N, D] (9), ln1/ln2 mean and rstd [N] (4),
  //   probs [B, H, T, T], fc1 gelu [N, F] (2).
  // Then the model's own buffers and the backward scratch shared by the layers.
  return {
      {"layers x [N, D] (x_in, ln1, q, k, v, heads_out, att, x_mid, ln2)", mul(L, mul(9, ND))},
      {"layers x [N] (ln1, ln2 mean and rstd)", mul(L, mul(4, N))},
      {"layers x probs [B, H, T, T]", mul(L, scores)},
      {"layers x [N, F] (fc1, gelu)", mul(L, mul(2, NF))},
      {"x_final, lnf [N, D]", mul(2, ND)},
      {"lnf mean and rstd [N]", mul(2, N)},
      {"logits [N, V]", mul(N, V)},
      {"qkv [N, 3D]", mul(3, ND)},
      {"dx, dtmp [N, D]", mul(2, ND)},
      {"dqkv [N, 3D]", mul(3, ND)},
      {"dq, dk, dv [N, D]", mul(3, ND)},
      {"dprobs [B, H, T, T]", scores},
      {"dheads, datt [N, D]", mul(2, ND)},
      {"dfc, dfc1 [N, F]", mul(2, NF)},
      {"dlogits [N, V]", mul(N, V)},
  };
}

std::size_t estimate_forward_bytes(const TransformerConfig& config, int B, int T) {
  return bytes_of(activation_buffers(config, B, T));
}

std::size_t estimate_forward_bytes_after(const TransformerConfig& config,
                                         const std::vector<std::pair<int, int>>& shapes) {
  std::vector<ActivationBuffer> held;
  for (const auto& [B, T] : shapes) {
    const std::vector<ActivationBuffer> now = activation_buffers(config, B, T);
    if (held.empty()) {
      held = now;
      continue;
    }
    for (std::size_t i = 0; i < held.size(); ++i)
      held[i].elements = std::max(held[i].elements, now[i].elements);
  }
  return bytes_of(held);
}

std::vector<ActivationBuffer> inference_buffers(const TransformerConfig& c, int B, int T) {
  const std::size_t N = mul(std::size_t(B), std::size_t(T)), D = std::size_t(c.d_model),
                    F = std::size_t(c.d_ff), V = std::size_t(c.vocab_size);
  return {{"x, x_mid, ln, q, k, v, heads, att", mul(8, mul(N, D))},
          {"mean, rstd", mul(2, N)},
          {"qkv", mul(3, mul(N, D))},
          {"fc1, gelu", mul(2, mul(N, F))},
          {"logits", mul(N, V)}};
}

std::size_t estimate_inference_bytes_after(const TransformerConfig& config,
                                           const std::vector<std::pair<int, int>>& shapes) {
  std::vector<ActivationBuffer> held;
  for (const auto& [B, T] : shapes) {
    const std::vector<ActivationBuffer> now = inference_buffers(config, B, T);
    if (held.empty()) held = now;
    for (std::size_t i = 0; i < held.size(); ++i)
      held[i].elements = std::max(held[i].elements, now[i].elements);
  }
  return bytes_of(held);
}

std::size_t estimate_parameter_count(const TransformerConfig& c) {
  const std::size_t D = std::size_t(c.d_model), F = std::size_t(c.d_ff),
                    V = std::size_t(c.vocab_size), L = std::size_t(c.layers);
  // Per layer: ln1 and ln2 (weight, bias), qkv [3D, D] + [3D], out [D, D] + [D],
  // fc1 [F, D] + [F], fc2 [D, F] + [D].
  const std::size_t per_layer =
      add(add(add(mul(4, D), add(mul(mul(3, D), D), mul(3, D))), add(mul(D, D), D)),
          add(add(mul(F, D), F), add(mul(D, F), D)));
  // tok_emb [V, D], ln_f (weight, bias), head [V, D] unless tied.
  const std::size_t embeddings = mul(c.tied_embeddings ? 1 : 2, mul(V, D));
  return add(add(embeddings, mul(2, D)), mul(L, per_layer));
}

std::size_t estimate_training_state_bytes(std::size_t parameter_count) {
  // values, grads (ParameterSet); m, v, decay mask (AdamW): five Reals per parameter.
  return mul(mul(parameter_count, 5), sizeof(Real));
}

std::size_t estimate_batch_bytes(int B, int T) {
  const std::size_t N = mul(std::size_t(std::max(B, 0)), std::size_t(std::max(T, 0)));
  // inputs, targets, the model's copy of the ids (int32); loss mask, correctness (uint8).
  return mul(N, 3 * sizeof(std::int32_t) + 2 * sizeof(std::uint8_t));
}

std::optional<std::size_t> available_memory_bytes() {
  std::optional<std::size_t> available = read_keyed_value("/proc/meminfo", "MemAvailable:", 1024);
  const std::optional<std::size_t> rooms[] = {
      cgroup_room("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current",
                  "/sys/fs/cgroup/memory.stat", "inactive_file "),
      cgroup_room("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/memory/memory.usage_in_bytes",
                  "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file ")};
  for (const auto& room : rooms)
    if (room) available = available ? std::min(*available, *room) : *room;
  return available;
}

std::string format_bytes(std::size_t bytes) {
  char buffer[64];
  if (bytes >= std::size_t(1000) * 1000 * 1000)
    std::snprintf(buffer, sizeof buffer, "%.1f GB", double(bytes) / 1e9);
  else
    std::snprintf(buffer, sizeof buffer, "%.1f MB", double(bytes) / 1e6);
  return buffer;
}

}  // namespace poslab
