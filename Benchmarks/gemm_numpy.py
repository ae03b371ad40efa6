#!/usr/bin/env python3
"""numpy's float32 matrix product on the sizes `recurrent-bench gemm` uses, for side-by-side runs.

Usage: Benchmarks/gemm_numpy.py [THREADS] [--sizes 128,256,...]
Prints JSON lines {"system": "numpy", "threads": N, "gemm_n": n, "gflops": X}, the best of
several repeats (about a second per size), like recurrent-bench.
"""
import os
import sys


def main():
    args = sys.argv[1:]
    sizes = [128, 256, 512, 1024, 2048]
    if "--sizes" in args:
        at = args.index("--sizes")
        sizes = [int(s) for s in args[at + 1].split(",")]
        del args[at:at + 2]
    threads = int(args[0]) if args else 1
    # The BLAS reads these when it loads, so they must be set before numpy is imported.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import time
    import numpy as np

    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        c = np.empty((n, n), np.float32)
        np.matmul(a, b, out=c)
        best, spent, repeats = float("inf"), 0.0, 0
        while repeats < 5 or spent < 1.0:
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            elapsed = time.perf_counter() - start
            best = min(best, elapsed)
            spent += elapsed
            repeats += 1
        gflops = 2.0 * n ** 3 / best / 1e9
        print(f'{{"system": "numpy", "threads": {threads}, "gemm_n": {n}, "gflops": {gflops:.2f}}}', flush=True)


if __name__ == "__main__":
    main()
