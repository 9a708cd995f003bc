#pragma once
// PositionalEncoder: the one interface through which a positional scheme touches the model.
// There are exactly four places where position can enter (docs/design.md, "Plugins and registries"):
//   1. embed       x[b,t,:] += P[t,:]                      (sinusoidal, learned)
//   2. rotate_qk   q, k transformed by position             (rope)
//   3. score_bias  logits[b,h,i,j] += f(i, j, q, k)         (t5, alibi, shaw keys, cope)
//   4. value_bias  out[b,h,i,:] += Σ_j α[b,h,i,j] g(i, j)   (shaw values)
// Each hook has a forward and a hand-written backward. A scheme overrides only what it
// uses; the defaults are no-ops. Backward hooks ACCUMULATE (+=) into the gradients they
// are given and into their own parameters' gradients (ParameterSet::grad).
//
// Shapes (all row-major, flat):
//   x, dx            [B, T, D]
//   q, k, dq, dk     [B, H, T, dh]        (heads split, contiguous per (b, h))
//   logits, dlogits  [B, H, T, T]         (query i = row, key j = column)
//   probs            [B, H, T, T]         (softmax output α; 0 above the diagonal if causal)
//   out, dout        [B, H, T, dh]        (α·V per head, before heads are merged)
// Positions: every hook reads the position of sequence slot t as position(t) — p[t] of the
// position array the model hands over before each forward (set_positions), shared by every
// example of the batch, strictly increasing; 0..T-1 unless the scheme was configured with
// `randomized: {max_position: P}` (Ruoss et al. 2023), where training and evaluation draw
// a sorted uniform random T-subset of 0..P-1 per batch (encoders/randomized_positions.h).
// Slot indices i, j still order the sequence (the causal mask is j > i, tiles are slot
// ranges); only position-dependent quantities change: absolute schemes read p[t], relative
// ones p[i] - p[j] (FIRE: max(L, p[i])), and per-distance tables span
// position_span(T) = p[T-1] - p[0] + 1 distances instead of T. With identity positions
// every scheme runs its original code (same numbers, same speed); caches built from the
// positions also key on positions_version().
//
// Streaming (tiled) attention, used by evaluation (Transformer::forward_inference, see
// model/streaming_attention.h and docs/streaming.md): hooks 3 and 4 also come in a tile
// form that never sees a [T, T] block. For one (b, h), queries are taken in blocks
// [i0, i1) and, for each block, key tiles [j0, j1) are visited from the causal diagonal
// BACKWARDS (right to left: the tile holding key i1 - 1, then the one before, ... down to
// key 0; bidirectional models start at the last key). Tiles entirely above the diagonal
// are never visited. Per query block the caller
//   1. zeroes `state` (tile_state_size(rows, cols) Reals) and calls begin_query_block once;
//   2. per key tile: fills scores with z = q·k / sqrt(dh), calls score_bias_tile (add the
//      bias, same contract as score_bias_forward), masks j > i (causal), takes the online
//      softmax weights w = exp(s - running max), rescales its accumulator, then calls
//      value_bias_tile (acc += Σ_j w_ij g(i, j)) and adds w·V itself.
// The backwards walk lets a hook carry per-query sums across tiles in `state` (CoPE's
// p_ij = Σ_{t=j..i} g_it is a suffix sum over keys). The tile hooks are const and are
// called concurrently for different (b, h, query block) from OpenMP threads: they may only
// read the encoder and write `scores`/`acc`/`state`. A scheme with a score or value bias
// must override the tile hooks (the defaults throw std::logic_error).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/named_array.h"
#include "core/real.h"
#include "core/registry.h"
#include "core/parameters.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// What an encoder needs to know about the model it lives in.
struct ModelDims {
  int d_model = 64;
  int heads = 4;
  int d_head = 16;
  int layers = 2;
  bool causal = true;
};

struct AttnDims {
  int B = 0, H = 0, T = 0, dh = 0;
  bool causal = true;
  std::size_t qk_size() const { return std::size_t(B) * H * T * dh; }
  std::size_t score_size() const { return std::size_t(B) * H * T * T; }
};

// One tile of the streaming attention for one (b, h): queries [i0, i1) (tile row r is query
// i0 + r), keys [j0, j1) (tile column c is key j0 + c). For begin_query_block, [j0, j1) is
// the whole key range the block will visit.
struct AttnTile {
  int layer = 0, b = 0, h = 0;
  int i0 = 0, i1 = 0, j0 = 0, j1 = 0;
  int T = 0, dh = 0;
  bool causal = true;
  const Real* q = nullptr;  // [T, dh] this (b, h)'s rotated queries (row t at q + t·dh)
  const Real* k = nullptr;  // [T, dh] this (b, h)'s rotated keys
  int rows() const { return i1 - i0; }
  int cols() const { return j1 - j0; }
  // One past the last key row r may see: keys [j0, key_end(r)); <= j0 means none.
  int key_end(int r) const { return causal ? std::min(j1, i0 + r + 1) : j1; }
};

class PositionalEncoder {
 public:
  virtual ~PositionalEncoder() = default;

  // ---- Positions (see the header comment) ----
  // The positions of the T slots for the next forward and its backward: `positions` [T],
  // strictly increasing and >= 0, or nullptr for 0..T-1 (an array equal to 0..T-1 is
  // stored as the identity too). Called by Transformer::forward / forward_inference.
  void set_positions(const int* positions, int T);
  // Position of slot t (t itself for the identity).
  int position(int t) const { return positions_.empty() ? t : positions_[std::size_t(t)]; }
  bool identity_positions() const { return positions_.empty(); }
  // [T] the positions, empty for the identity.
  const std::vector<int>& positions() const { return positions_; }
  // p[T-1] - p[0] + 1: every |p[i] - p[j]| is below it (T for the identity).
  int position_span(int T) const {
    return positions_.empty() ? T : positions_.back() - positions_.front() + 1;
  }
  // Changes whenever set_positions changes the positions (not when the identity is set
  // again): a cache of position-dependent values keys on (T, positions_version()).
  std::uint64_t positions_version() const { return positions_version_; }

  // randomized: {max_position: P} (the shared option of every scheme whose positions are
  // indices, randomized_option()): P, or 0 when the scheme reads 0..T-1.
  int randomized_max_position() const { return randomized_max_position_; }
  // Throws ConfigError naming randomized.max_position if a randomized scheme is asked for
  // sequences longer than P (a T-subset of 0..P-1 needs T <= P). Called with every
  // training and evaluation length before training, next to check_length.
  void check_positions(int T) const;
  // Reads the randomized section if the scheme declared it and it was given; called by
  // the registry's factory (POSLAB_REGISTER_ENCODER) right after the constructor.
  void configure_positions(const Options& o);

  // Declares learned tensors (names prefixed "encoder.") in the model's parameter set.
  // Called once before the set is allocated; keep the handles and the pointer.
  virtual void declare_parameters(ParameterSet& /*params*/) {}

  // Throws ConfigError (naming the option's key) if sequences of length T are not
  // supported, e.g. learned positions beyond max_length. Called before training starts.
  virtual void check_length(int /*T*/) const {}

  // 1. embed
  virtual void embed_forward(Real* /*x*/, int /*B*/, int /*T*/) {}
  virtual void embed_backward(const Real* /*dx*/, int /*B*/, int /*T*/) {}

  // 2. rotate_qk: forward rotates q and k in place. Backward maps gradients with respect
  // to the rotated q, k (in place) to gradients with respect to the unrotated ones.
  virtual void rotate_qk_forward(int /*layer*/, Real* /*q*/, Real* /*k*/, const AttnDims&) {}
  virtual void rotate_qk_backward(int /*layer*/, Real* /*dq*/, Real* /*dk*/, const AttnDims&) {}

  // 3. score_bias: on entry `logits` holds z = q·k / sqrt(dh) (no mask yet); add the bias.
  // q and k are the (rotated) queries and keys. Backward gets dL/dlogits and accumulates
  // into dq, dk and the encoder's parameter gradients. Masked entries (j > i when causal)
  // are overwritten with -inf after this hook, and their dlogits are 0.
  virtual bool has_score_bias() const { return false; }
  virtual void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                                  Real* /*logits*/, const AttnDims&) {}
  virtual void score_bias_backward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                                   const Real* /*dlogits*/, Real* /*dq*/, Real* /*dk*/,
                                   const AttnDims&) {}

  // 4. value_bias: out += Σ_j probs_ij g(i, j). Backward accumulates into dprobs and the
  // encoder's parameter gradients.
  virtual bool has_value_bias() const { return false; }
  virtual void value_bias_forward(int /*layer*/, const Real* /*probs*/, Real* /*out*/,
                                  const AttnDims&) {}
  virtual void value_bias_backward(int /*layer*/, const Real* /*probs*/, const Real* /*dout*/,
                                   Real* /*dprobs*/, const AttnDims&) {}

  // Tile forms of hooks 3 and 4 (streaming attention; see the header comment).
  // Reals of per-query-block state for blocks of up to `rows` queries and tiles of up to
  // `cols` keys; the caller zeroes it before begin_query_block.
  virtual std::size_t tile_state_size(int /*rows*/, int /*cols*/) const { return 0; }
  // Once per query block, before its first key tile (e.g. per-query tables of q).
  virtual void begin_query_block(const AttnTile& /*block*/, Real* /*state*/) const {}
  // scores [rows, cols] (row stride ld) hold z = q·k / sqrt(dh); add the bias. Entries with
  // j > i (causal) are masked by the caller afterwards, whatever the hook writes there.
  virtual void score_bias_tile(const AttnTile& tile, Real* scores, int ld, Real* state) const;
  // weights [rows, cols] (row stride ld): unnormalised softmax weights, 0 where masked.
  // acc [rows, dh] (row stride dh) += Σ_j w_ij g(i, j).
  virtual void value_bias_tile(const AttnTile& tile, const Real* weights, int ld, Real* acc,
                               Real* state) const;

  // The [length, d_model] vectors a probe reads, for schemes that have them.
  virtual std::optional<Eigen::MatrixXd> position_matrix(int /*length*/) const {
    return std::nullopt;
  }
  // What `poslab encode` writes for a length (default: the position matrix, if any).
  virtual std::vector<NamedArray> encode(int length) const;
  // The scheme's parameters or fixed quantities for the results file (/encoder/).
  virtual std::vector<NamedArray> describe() const { return {}; }

 private:
  std::vector<int> positions_;  // [T], empty = 0..T-1
  std::uint64_t positions_version_ = 0;
  int randomized_max_position_ = 0;
  ConfigNode max_position_node_;
};

using EncoderRegistry = Registry<PositionalEncoder, const ModelDims&>;

#define POSLAB_REGISTER_ENCODER(ClassName, Name, Summary, OptionList)                  \
  static const ::poslab::Registrar<::poslab::EncoderRegistry> registrar_##ClassName{     \
      {Name, Summary, OptionList,                                                        \
       [](const ::poslab::Options& o, const ::poslab::ModelDims& d)                      \
           -> std::unique_ptr<::poslab::PositionalEncoder> {                             \
         auto encoder = std::make_unique<ClassName>(o, d);                               \
         encoder->configure_positions(o);                                                \
         return encoder;                                                                 \
       }, __FILE__}};

}  // namespace poslab
