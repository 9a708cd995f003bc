// none (NoPE): no positional information at all. In a causal model the mask alone still
// lets the network infer position (Kazemnejad et al. 2023, "The Impact of Positional
// Encoding on Length Generalization in Transformers"); in a bidirectional model the model
// is permutation-equivariant. Every hook is the default no-op.
#include "encoders/encoder.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class NoEncoder : public PositionalEncoder {
 public:
  NoEncoder(const Options&, const ModelDims&) {}
};

POSLAB_REGISTER_ENCODER(NoEncoder, "none", "no positional encoding (NoPE)", {})

}  // namespace
}  // namespace poslab
