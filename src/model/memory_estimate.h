#pragma once
// How much memory a run needs, computed from the model's dimensions before anything is
// allocated, so that a shape that cannot fit (an evaluation length of 100000: B·H·T²
// attention probabilities per layer) is refused before training instead of failing with
// bad_alloc after it.
//
// The activation estimate mirrors Transformer::resize() buffer by buffer (keep the two in
// step); the parameter estimate counts the flat buffers of ParameterSet and AdamW.
// Encoder scratch (e.g. CoPE's per-layer gates, about the size of `probs`) and the probes'
// copies are not included: the estimate is what every run needs at least.
//
// Sizes saturate at SIZE_MAX instead of wrapping, so absurd shapes compare as "too big".
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/transformer.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// One buffer group of Transformer::resize(): its name and element count (of Real), the
// per-layer buffers already multiplied by the number of layers.
struct ActivationBuffer {
  std::string name;
  std::size_t elements = 0;
};

// Every buffer Transformer::resize(B, T) allocates, in its order.
std::vector<ActivationBuffer> activation_buffers(const TransformerConfig& config, int B, int T);

// Bytes of activations and backward scratch for one forward/backward at batch B, length T.
std::size_t estimate_forward_bytes(const TransformerConfig& config, int B, int T);

// Bytes held after running the shapes (B, T) in order: a buffer's capacity never shrinks
// (resize() uses assign), so each buffer keeps its largest size so far.
std::size_t estimate_forward_bytes_after(const TransformerConfig& config,
                                         const std::vector<std::pair<int, int>>& shapes);

// Every buffer Transformer::resize_inference(B, T) allocates (the evaluation forward:
// streaming attention, one layer's buffers reused, no [T, T] block), in its order. The
// attention's per-thread tile workspace (a few hundred KB) is not counted.
std::vector<ActivationBuffer> inference_buffers(const TransformerConfig& config, int B, int T);

// Bytes held by the inference buffers after evaluating the shapes (B, T) in order.
std::size_t estimate_inference_bytes_after(const TransformerConfig& config,
                                           const std::vector<std::pair<int, int>>& shapes);

// Parameters of the transformer itself, without its encoder's: mirrors the declarations
// of the Transformer constructor (keep the two in step).
std::size_t estimate_parameter_count(const TransformerConfig& config);

// Bytes of the training state for `parameter_count` parameters: values and gradients
// (ParameterSet), AdamW's two moments and its weight-decay mask.
std::size_t estimate_training_state_bytes(std::size_t parameter_count);

// Bytes of one batch as tasks make it: inputs, targets (int32), loss mask and the
// per-position correctness of the loss (uint8), B·T each.
std::size_t estimate_batch_bytes(int B, int T);

// Memory this process may still use: MemAvailable from /proc/meminfo, lowered to the
// room left under the cgroup's limit (v2 memory.max or v1 memory.limit_in_bytes) when one
// is set. Nothing if neither can be read.
std::optional<std::size_t> available_memory_bytes();

// "41.2 GB" (decimal gigabytes, one decimal); "12.0 MB" below 1 GB.
std::string format_bytes(std::size_t bytes);

}  // namespace poslab
