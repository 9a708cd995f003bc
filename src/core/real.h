#pragma once
// The scalar type of all numeric (model) code. The same sources are compiled twice:
// poslab_core with Real = float for training, poslab_core_f64 with Real = double for
// finite-difference gradient checks and PyTorch parity tests.
#include <Eigen/Dense>

#include "core/aligned_buffer.h"

// The two builds are kept apart by an inline namespace: every declaration of the numeric
// code (src/core/kernels, core/parameters, encoders, model, train) opens
//   namespace poslab::inline POSLAB_REAL_NAMESPACE { ... }
// so that poslab::f32::Transformer and poslab::f64::Transformer are different symbols: a
// program that links both libraries, or Real-independent code (poslab_base) that reaches
// into the numeric code, fails to link instead of silently mixing float and double. Code
// still writes poslab::Transformer (an inline namespace is transparent to lookup).
#ifdef POSLAB_DOUBLE
#define POSLAB_REAL_NAMESPACE f64
#else
#define POSLAB_REAL_NAMESPACE f32
#endif

namespace poslab {

#ifdef POSLAB_DOUBLE
using Real = double;
#else
using Real = float;
#endif

// Row-major so that a [rows, cols] view over a flat buffer reads like C: row r starts at
// data + r * cols. Activations are [tokens, features]; weights follow PyTorch ([out, in]).
using MatR = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapR = Eigen::Map<MatR>;
using CMapR = Eigen::Map<const MatR>;
using VecR = Eigen::Matrix<Real, Eigen::Dynamic, 1>;
using MapVecR = Eigen::Map<VecR>;
using CMapVecR = Eigen::Map<const VecR>;

// Every numeric buffer of the model, encoders and optimizer: 64-byte aligned so that
// results never depend on heap addresses (see core/aligned_buffer.h).
using RealBuffer = AlignedVector<Real>;

}  // namespace poslab
