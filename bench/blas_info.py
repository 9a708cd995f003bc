"""Which BLAS library this Python process has mapped (shared by the benchmark scripts)."""
import os


def blas_library():
    """The BLAS shared objects this process has mapped (torch's and numpy's matmuls go through them)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none mapped"
