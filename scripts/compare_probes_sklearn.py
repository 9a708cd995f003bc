#!/usr/bin/python3
"""Recompute poslab's absolute and relative position probes with scikit-learn.

poslab's probes (src/probes/) fit their own least squares and logistic regression. This
script refits the same models with scikit-learn on the SAME rows, folds and pairs, and
checks that the numbers agree within stated tolerances.

Input: a dump directory written by the C++ test ProbesDump.WritesInputsAndResults when
POSLAB_PROBE_DUMP is set. Layout, one folder per matrix (the sinusoidal 512x768 matrix and,
if found, GPT-2's first 64 learned positions):

    <dump>/<matrix>/matrix.npy                       P [L, d]
    <dump>/<matrix>/absolute_position/{positions,fold,predictions}.npy, scalars.json, options.json
    <dump>/<matrix>/relative_position/{pairs,fold,decision}.npy, scalars.json, options.json
    <dump>/<matrix>/relative_position_wang_chen/  the same, for protocol: wang_chen

Usage (Debian's /usr/bin/python3 has scikit-learn, numpy):

    POSLAB_PROBE_DUMP=/tmp/probe_dump build/poslab_tests --gtest_filter='ProbesDump.*'
    /usr/bin/python3 scripts/compare_probes_sklearn.py /tmp/probe_dump

or in one step (runs the test binary into the directory first):

    /usr/bin/python3 scripts/compare_probes_sklearn.py /tmp/probe_dump --tests build/poslab_tests

What is compared, and the tolerances (exit status 1 if any is exceeded):
  absolute_position, per fold:
    (a) sklearn LinearRegression: centres X and y, then scipy.linalg.lstsq, i.e. the
        minimum-norm solution, like poslab.
          mae: <= 1/m (one rounded prediction may land on the other side of a .5);
          r2: <= 1e-3. Its predictions are reported, not checked: scipy's default rank
          cut (singular values below eps * largest) is on the knife's edge for centred
          data. Centring leaves one direction with a singular value of pure rounding noise
          (~1e-16 of the largest); scipy can keep it and add a meaningless component along
          it (seen on GPT-2's slice: predictions off by ~0.05). poslab, like numpy, cuts at
          eps * max(n, d) and drops it.
    (b) numpy.linalg.lstsq on the centred data with its default cut, the same definition
        as poslab's: out-of-fold predictions max |difference| <= 1e-6 * L; r2 <= 1e-6.
  relative_position: sklearn LogisticRegression(C = 1/(n_train * l2), fit_intercept=True,
    tol=1e-10, max_iter=10000), which minimises mean log-loss + (l2/2)|w|^2 with an
    unpenalised intercept: poslab's objective (src/probes/linalg.h), on the raw 2d features.
      out-of-fold decision values: max |difference| <= rtol * (1 + max |decision|), with
        rtol = 1e-3 for --solver lbfgs (the default: it stops when the objective changes by
        less than 64 eps relative, which leaves the weights accurate to ~1e-4 relative) and
        rtol = 1e-8 for --solver newton-cholesky (Newton, like poslab: agrees to ~1e-13, but
        forming a 1537x1537 Hessian is slow with the reference BLAS Debian's numpy may
        use — minutes per matrix);
      error_rate, train_error_rate: <= 2/N (a pair whose decision is ~0 may flip).
  relative_position_wang_chen (protocol: wang_chen), refitted exactly as Wang & Chen's
    relative.py (MiuLab/PE-Study) runs it, on poslab's pairs in poslab's order:
    cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=5, scoring=error).mean(),
    scikit-learn's defaults otherwise (C = 1, lbfgs, tol 1e-4).
      folds: StratifiedKFold(5) (what cv=5 uses for a classifier) must give poslab's fold
        ids exactly;
      error_rate: <= 2 flipped pairs per fold (2/(N/5) on a fold's rate): lbfgs stops at
        its tolerance where poslab's Newton fit converges fully, so a pair with a decision
        near 0 may land on the other side;
      out-of-fold decision values (refitted with tol=1e-10 and max_iter=10000, i.e. the
        same objective to convergence): max |difference| <= rtol * (1 + max |decision|)
        as above.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score


def load_json(path):
    with open(path) as f:
        return json.load(f)


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, name, difference, tolerance, detail=""):
        ok = difference <= tolerance
        self.failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<38} |diff| = {difference:.3g}"
              f"  (tolerance {tolerance:.3g}){'  ' + detail if detail else ''}")


def compare_absolute(P, d, report):
    positions = np.load(os.path.join(d, "positions.npy")).astype(int)
    fold = np.load(os.path.join(d, "fold.npy")).astype(int)
    poslab_pred = np.load(os.path.join(d, "predictions.npy"))
    scalars = load_json(os.path.join(d, "scalars.json"))

    X, y = P[positions], positions.astype(float)
    m = len(y)
    sk_pred, np_pred = np.empty_like(y), np.empty_like(y)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        sk_pred[test] = LinearRegression().fit(X[train], y[train]).predict(X[test])
        x_mean, y_mean = X[train].mean(axis=0), y[train].mean()
        w = np.linalg.lstsq(X[train] - x_mean, y[train] - y_mean, rcond=None)[0]
        np_pred[test] = (X[test] - x_mean) @ w + y_mean

    def metrics(pred):
        mae = np.mean(np.abs(np.round(pred) - y))
        return mae, 1.0 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)

    (sk_mae, sk_r2), (np_mae, np_r2) = metrics(sk_pred), metrics(np_pred)
    print(f" absolute_position: poslab mae {scalars['mae']:.6g} r2 {scalars['r2']:.10g} |"
          f" sklearn mae {sk_mae:.6g} r2 {sk_r2:.10g} | numpy mae {np_mae:.6g} r2 {np_r2:.10g}")
    flips = int(np.sum(np.round(sk_pred) != np.round(poslab_pred)))
    print(f"  info {'sklearn predictions (max)':<38} |diff| = {np.max(np.abs(sk_pred - poslab_pred)):.3g}"
          "  (not checked: scipy's rank cut, see the top of this file)")
    report.check("sklearn mae", abs(sk_mae - scalars["mae"]), 1.0 / m,
                 f"rounded predictions that differ: {flips}")
    report.check("sklearn r2", abs(sk_r2 - scalars["r2"]), 1e-3)
    report.check("numpy predictions (max)", np.max(np.abs(np_pred - poslab_pred)), 1e-6 * P.shape[0])
    report.check("numpy r2", abs(np_r2 - scalars["r2"]), 1e-6)


def compare_relative(P, d, report, solver):
    pairs = np.load(os.path.join(d, "pairs.npy")).astype(int)
    fold = np.load(os.path.join(d, "fold.npy")).astype(int)
    poslab_decision = np.load(os.path.join(d, "decision.npy"))
    scalars = load_json(os.path.join(d, "scalars.json"))
    l2 = load_json(os.path.join(d, "options.json"))["l2"]

    X = np.hstack([P[pairs[:, 0]], P[pairs[:, 1]]])
    y = (pairs[:, 1] > pairs[:, 0]).astype(int)
    decision = np.empty(len(y))
    train_errors = []
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        n_train = int(train.sum())
        clf = LogisticRegression(C=1.0 / (n_train * l2), fit_intercept=True, tol=1e-10,
                                 max_iter=10000, solver=solver)
        clf.fit(X[train], y[train])
        decision[test] = clf.decision_function(X[test])
        train_errors.append(np.mean(clf.predict(X[train]) != y[train]))
    N = len(y)
    error_rate = np.mean((decision > 0) != (y == 1))
    train_error_rate = float(np.mean(train_errors))
    flips = int(np.sum((decision > 0) != (poslab_decision > 0)))

    print(f" relative_position: poslab error {scalars['error_rate']:.6g} train"
          f" {scalars['train_error_rate']:.6g} | sklearn error {error_rate:.6g} train {train_error_rate:.6g}")
    scale = 1.0 + np.max(np.abs(decision))
    rtol = 1e-8 if solver == "newton-cholesky" else 1e-3
    report.check(f"decision values (max, {solver})", np.max(np.abs(decision - poslab_decision)), rtol * scale,
                 f"max |decision| = {scale - 1:.3g}")
    report.check("error_rate", abs(error_rate - scalars["error_rate"]), 2.0 / N,
                 f"predicted labels that differ: {flips}")
    report.check("train_error_rate", abs(train_error_rate - scalars["train_error_rate"]), 2.0 / N)


def compare_wang_chen(P, d, report, solver):
    pairs = np.load(os.path.join(d, "pairs.npy")).astype(int)
    fold = np.load(os.path.join(d, "fold.npy")).astype(int)
    poslab_decision = np.load(os.path.join(d, "decision.npy"))
    scalars = load_json(os.path.join(d, "scalars.json"))

    X = np.hstack([P[pairs[:, 0]], P[pairs[:, 1]]])
    y = pairs[:, 1] > pairs[:, 0]
    N = len(y)
    sk_fold = np.empty(N, dtype=int)
    for k, (_, test) in enumerate(StratifiedKFold(5).split(X, y)):
        sk_fold[test] = k
    report.check("wang_chen folds (StratifiedKFold)", float(np.sum(sk_fold != fold)), 0.0,
                 "pairs in another fold")

    # The authors' call, on poslab's pairs.
    def error(model, x, labels):
        return (model.predict(x) != labels).mean()
    authors = cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=5, scoring=error).mean()

    decision = np.empty(N)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000, solver=solver)
        decision[test] = clf.fit(X[train], y[train]).decision_function(X[test])
    print(f" relative_position (wang_chen): poslab error {scalars['error_rate']:.6g} |"
          f" authors' cross_val_score {authors:.6g} | pairs {N}")
    report.check("wang_chen error_rate", abs(authors - scalars["error_rate"]), 2.0 / (N / 5))
    scale = 1.0 + np.max(np.abs(decision))
    rtol = 1e-8 if solver == "newton-cholesky" else 1e-3
    report.check(f"wang_chen decisions (max, {solver})",
                 np.max(np.abs(decision - poslab_decision)), rtol * scale,
                 f"max |decision| = {scale - 1:.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dump", help="directory written with POSLAB_PROBE_DUMP")
    parser.add_argument("--tests", metavar="BINARY",
                        help="run this poslab test binary first to write the dump")
    parser.add_argument("--solver", choices=["lbfgs", "newton-cholesky"], default="lbfgs",
                        help="scikit-learn solver for the relative probe (see the tolerances)")
    args = parser.parse_args()

    if args.tests:
        env = dict(os.environ, POSLAB_PROBE_DUMP=os.path.abspath(args.dump))
        subprocess.run([args.tests, "--gtest_filter=ProbesDump.*"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    matrices = sorted(m for m in os.listdir(args.dump)
                      if os.path.isfile(os.path.join(args.dump, m, "matrix.npy")))
    if not matrices:
        print(f"{args.dump}: no <matrix>/matrix.npy found; expected a POSLAB_PROBE_DUMP directory",
              file=sys.stderr)
        return 2

    report = Report()
    for name in matrices:
        base = os.path.join(args.dump, name)
        P = np.load(os.path.join(base, "matrix.npy")).astype(np.float64)
        print(f"{name} {P.shape[0]}x{P.shape[1]}")
        compare_absolute(P, os.path.join(base, "absolute_position"), report)
        compare_relative(P, os.path.join(base, "relative_position"), report, args.solver)
        wang_chen = os.path.join(base, "relative_position_wang_chen")
        if os.path.isdir(wang_chen):
            compare_wang_chen(P, wang_chen, report, args.solver)
    print("all within tolerance" if report.failures == 0 else f"{report.failures} check(s) failed")
    return 0 if report.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
