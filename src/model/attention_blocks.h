#pragma once
// Row blocks of causal attention: the keys a block of queries can see. Shared by the
// materialized attention of training (model/attention_products.h) and the streaming
// attention of evaluation (model/streaming_attention.h), so both skip the same masked half.
//
// A block of queries [i0, i1) of a causal model sees keys [0, i1): everything to the right
// of the block's last row is masked for every row of the block, and only the diagonal
// [i1 - rows, i1) square holds masked entries (j > i) that are computed and then zeroed.
// A bidirectional model's blocks see all T keys.
#include <algorithm>
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// One past the last key a query block ending at i1 may see.
inline int visible_keys(int i1, int T, bool causal) { return causal ? std::min(i1, T) : T; }

}  // namespace poslab
