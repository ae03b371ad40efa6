#ifndef CMPISHIM_H
#define CMPISHIM_H

#include <stddef.h>
#include <stdint.h>

// The few MPI calls data-parallel training makes, reached without MPI's headers or libraries at
// build time: the library (Open MPI's libmpi.so.40 or MPICH's libmpi.so.12, libmpich.so.12 on Debian) is opened at run
// time, and each implementation's handles (Open MPI's are addresses of its predefined objects,
// behind macros; MPICH's are integer constants) are looked up here. So the package builds on a
// machine without MPI, and a process started by mpirun finds the library it was started with.
//
// Every function returns 0 on success or an MPI error code (-1: the library is not loaded).

/// Opens the MPI library: the one RECURRENT_MPI_LIBRARY names, otherwise the first of the usual
/// sonames found, MPICH's first when a PMI launcher (MPICH's hydra: PMI_RANK, PMI_SIZE) and not
/// Open MPI's started the process. On failure, writes why into `error` (NUL-terminated, at most
/// `errorSize` bytes) and returns -1.
int rmpi_load(char *error, size_t errorSize);

/// "Open MPI" or "MPICH" once loaded, NULL before.
const char *rmpi_implementation(void);

int rmpi_init(int *rank, int *size);
int rmpi_finalize(void);
/// Ends every process of the job with `code`.
int rmpi_abort(int code);

/// Sums `count` floats element-wise over every process, in place.
int rmpi_allreduce_sum_float(float *values, int64_t count);
/// Process `root`'s `count` bytes into every process's `bytes`.
int rmpi_broadcast_bytes(void *bytes, int64_t count, int root);
/// Every process's `value`, in rank order, into `all` (size entries).
int rmpi_allgather_int64(int64_t value, int64_t *all);
/// Every process's `count` bytes, concatenated in rank order into `all`; `counts` holds every
/// process's count (from `rmpi_allgather_int64`).
int rmpi_allgather_bytes(const void *bytes, int count, void *all, const int *counts, const int *offsets);

#endif
