#include "core/kernels/kernels.h"

namespace poslab::kernels {

void linear_forward(Real* y, const Real* x, const Real* w, const Real* b, int N, int I, int O) {
  MapR Y(y, N, O);
  CMapR X(x, N, I), W(w, O, I);
  Y.noalias() = X * W.transpose();
  if (b) Y.rowwise() += CMapVecR(b, O).transpose();
}

void linear_backward(Real* dx, Real* dw, Real* db, const Real* dy, const Real* x, const Real* w,
                     int N, int I, int O) {
  CMapR dY(dy, N, O), X(x, N, I), W(w, O, I);
  if (dx) MapR(dx, N, I).noalias() += dY * W;
  MapR(dw, O, I).noalias() += dY.transpose() * X;
  if (db) MapVecR(db, O) += dY.colwise().sum().transpose();
}

}  // namespace poslab::kernels
