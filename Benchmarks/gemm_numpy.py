#!/usr/bin/env python3
"""numpy's float32 matrix product on the sizes `recurrent-bench gemm` uses, for side-by-side runs.

Usage: Benchmarks/gemm_numpy.py [THREADS] [--sizes 128,256,...] [--shapes MxNxK,...] [--trans nn|nt|tn|tt]
Prints JSON lines {"system": "numpy", "threads": N, "gemm_n": n, "gflops": X} (with --shapes:
"gemm_m", "gemm_n", "gemm_k", "trans"), the best of several repeats (about a second per size),
like `recurrent-bench gemm`.
"""
import os
import sys


def option(args, name, default):
    if name not in args:
        return default
    at = args.index(name)
    value = args[at + 1]
    del args[at:at + 2]
    return value


def main():
    args = sys.argv[1:]
    sizes = [int(s) for s in option(args, "--sizes", "128,256,512,1024,2048").split(",")]
    shapes_text = option(args, "--shapes", None)
    trans = option(args, "--trans", "nn")
    assert trans in ("nn", "nt", "tn", "tt"), "--trans takes nn, nt, tn or tt"
    shapes = [(n, n, n) for n in sizes]
    if shapes_text:
        shapes = [tuple(int(x) for x in item.split("x")) for item in shapes_text.split(",")]
    threads = int(args[0]) if args else 1
    # The BLAS reads these when it loads, so they must be set before numpy is imported.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import time
    import numpy as np

    rng = np.random.default_rng(0)
    for m, n, k in shapes:
        a = rng.uniform(-1, 1, (k, m) if trans[0] == "t" else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if trans[1] == "t" else (k, n)).astype(np.float32)
        op_a = a.T if trans[0] == "t" else a
        op_b = b.T if trans[1] == "t" else b
        c = np.empty((m, n), np.float32)
        np.matmul(op_a, op_b, out=c)
        best, spent, repeats = float("inf"), 0.0, 0
        while repeats < 5 or spent < 1.0:
            start = time.perf_counter()
            np.matmul(op_a, op_b, out=c)
            elapsed = time.perf_counter() - start
            best = min(best, elapsed)
            spent += elapsed
            repeats += 1
        gflops = 2.0 * m * n * k / best / 1e9
        if shapes_text:
            print(f'{{"system": "numpy", "threads": {threads}, "gemm_m": {m}, "gemm_n": {n}, "gemm_k": {k}, '
                  f'"trans": "{trans}", "gflops": {gflops:.2f}}}', flush=True)
        else:
            print(f'{{"system": "numpy", "threads": {threads}, "gemm_n": {n}, "gflops": {gflops:.2f}}}', flush=True)


if __name__ == "__main__":
    main()
