#pragma once
// The scalar type of all numeric (model) code. The same sources are compiled twice:
// poslab_core with Real = float for training, poslab_core_f64 with Real = double for
// finite-difference gradient checks and PyTorch parity tests.
#include <Eigen/Dense>

#include "core/aligned_buffer.h"

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
