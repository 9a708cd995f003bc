#!/usr/bin/python3
"""Single-precision GEMM rate of this machine as a library matmul sees it.

Times C = A.B for square float32 matrices (default 2048 x 2048, 2*n^3 FLOPs each) with
torch.mm at torch's default thread count (or numpy.matmul with --backend numpy, or when
torch is not importable), and reports the median over --repeats timed products after one
untimed product. The rate is only as good as the BLAS the library is linked against; the
shared object actually mapped is printed, because Debian's python3-torch and python3-numpy
go through libblas.so.3, which is the unoptimised netlib reference BLAS unless an optimised
one (e.g. libopenblas0-pthread) is installed as the alternative.

The last line printed is machine-readable:
    RESULT gemm_gflops=... backend=... threads=... n=...
"""
import argparse
import os
import statistics
import sys
import time

from blas_info import blas_library


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048, help="matrix size (n x n)")
    p.add_argument("--repeats", type=int, default=5, help="timed products (median reported)")
    p.add_argument("--backend", choices=("torch", "numpy"), default="torch")
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (default 0: torch's default; numpy's BLAS "
                        "threads are set by the BLAS itself)")
    a = p.parse_args(argv)
    if a.n < 1 or a.repeats < 1:
        p.error("--n and --repeats must be positive")

    backend = a.backend
    if backend == "torch":
        try:
            import torch
        except ImportError:
            print("gemm_peak.py: torch not importable by %s; using numpy" % sys.executable)
            backend = "numpy"
    if backend == "torch":
        if a.threads > 0:
            torch.set_num_threads(a.threads)
        gen = torch.Generator().manual_seed(0)
        A = torch.randn(a.n, a.n, generator=gen, dtype=torch.float32)
        B = torch.randn(a.n, a.n, generator=gen, dtype=torch.float32)
        C = torch.empty(a.n, a.n, dtype=torch.float32)
        product = lambda: torch.mm(A, B, out=C)
        threads = torch.get_num_threads()
        version = "torch " + torch.__version__
    else:
        try:
            import numpy as np
        except ImportError:
            sys.exit("gemm_peak.py: neither torch nor numpy importable by %s; run it with "
                     "/usr/bin/python3" % sys.executable)
        rng = np.random.default_rng(0)
        A = rng.standard_normal((a.n, a.n), dtype=np.float32)
        B = rng.standard_normal((a.n, a.n), dtype=np.float32)
        C = np.empty((a.n, a.n), dtype=np.float32)
        product = lambda: np.matmul(A, B, out=C)
        threads = 0  # decided by the BLAS
        version = "numpy " + np.__version__

    product()  # untimed: page in, let the BLAS set up its buffers and threads
    rates = []
    for _ in range(a.repeats):
        start = time.perf_counter()
        product()
        rates.append(2.0 * a.n ** 3 / (time.perf_counter() - start) / 1e9)
    print("%s, %s threads, BLAS: %s" % (version, threads or "BLAS-default", blas_library()))
    print("GFLOP/s per product: " + " ".join("%.2f" % r for r in rates))
    print("RESULT gemm_gflops=%.3f backend=%s threads=%d n=%d"
          % (statistics.median(rates), backend, threads, a.n))


if __name__ == "__main__":
    main()
