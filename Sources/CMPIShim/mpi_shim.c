#include "CMPIShim.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Handles are passed as intptr_t: an Open MPI handle is a pointer, an MPICH handle an int, and
// both travel in one integer register under the C calling conventions of x86-64 and arm64.
typedef intptr_t handle_t;

static struct {
    void *library;
    const char *name;
    handle_t world, byte_type, float_type, sum;
    void *in_place;
    int (*init)(int *, char ***);
    int (*finalize)(void);
    int (*abort_job)(handle_t, int);
    int (*comm_rank)(handle_t, int *);
    int (*comm_size)(handle_t, int *);
    int (*allreduce)(const void *, void *, int, handle_t, handle_t, handle_t);
    int (*bcast)(void *, int, handle_t, int, handle_t);
    int (*allgather)(const void *, int, handle_t, void *, int, handle_t, handle_t);
    int (*allgatherv)(const void *, int, handle_t, void *, const int *, const int *, handle_t, handle_t);
} mpi;

static int fail(char *error, size_t size, const char *message, const char *detail) {
    if (error && size > 0) snprintf(error, size, "%s%s%s", message, detail ? ": " : "", detail ? detail : "");
    return -1;
}

// The launcher that started us says whose library to open: a process started by MPICH's hydra
// (or another PMI launcher) that opened Open MPI's library would start alone, as a singleton.
static int launched_by_open_mpi(void) { return getenv("OMPI_COMM_WORLD_SIZE") != NULL; }
static int launched_by_pmi(void) { return getenv("PMI_SIZE") != NULL || getenv("PMI_RANK") != NULL; }

int rmpi_load(char *error, size_t errorSize) {
    if (mpi.library) return 0;
    // Open MPI's libmpi.so.40; MPICH's libmpi.so.12, named libmpich.so.12 by Debian and Ubuntu.
    const char *openMPIFirst[] = {"libmpi.so.40", "libmpich.so.12", "libmpi.so.12", "libmpi.so"};
    const char *mpichFirst[] = {"libmpich.so.12", "libmpi.so.12", "libmpi.so.40", "libmpi.so"};
    const char **candidates = launched_by_pmi() && !launched_by_open_mpi() ? mpichFirst : openMPIFirst;
    size_t count = sizeof openMPIFirst / sizeof *openMPIFirst;
    // A library named by RECURRENT_MPI_LIBRARY is the only one tried.
    const char *chosen = getenv("RECURRENT_MPI_LIBRARY");
    if (chosen && *chosen) {
        candidates = &chosen;
        count = 1;
    }
    const char *lastError = NULL;
    for (size_t i = 0; i < count && !mpi.library; i++) {
        // Open MPI loads its transports as plugins that need libmpi's symbols: RTLD_GLOBAL.
        mpi.library = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
        if (!mpi.library) lastError = dlerror();
    }
    if (!mpi.library) return fail(error, errorSize, "no MPI library found (install openmpi-bin and libopenmpi-dev, or MPICH)", lastError);
    void *world = dlsym(mpi.library, "ompi_mpi_comm_world");
    if (world) {
        mpi.name = "Open MPI";
        mpi.world = (handle_t)world;
        mpi.byte_type = (handle_t)dlsym(mpi.library, "ompi_mpi_byte");
        mpi.float_type = (handle_t)dlsym(mpi.library, "ompi_mpi_float");
        mpi.sum = (handle_t)dlsym(mpi.library, "ompi_mpi_op_sum");
        mpi.in_place = (void *)1;
    } else {
        // MPICH's ABI (mpi.h of MPICH 3 and 4, Intel MPI, MVAPICH): fixed integer handles.
        mpi.name = "MPICH";
        mpi.world = 0x44000000;
        mpi.byte_type = 0x4c00010d;
        mpi.float_type = 0x4c00040a;
        mpi.sum = 0x58000003;
        mpi.in_place = (void *)-1;
    }
    *(void **)&mpi.init = dlsym(mpi.library, "MPI_Init");
    *(void **)&mpi.finalize = dlsym(mpi.library, "MPI_Finalize");
    *(void **)&mpi.abort_job = dlsym(mpi.library, "MPI_Abort");
    *(void **)&mpi.comm_rank = dlsym(mpi.library, "MPI_Comm_rank");
    *(void **)&mpi.comm_size = dlsym(mpi.library, "MPI_Comm_size");
    *(void **)&mpi.allreduce = dlsym(mpi.library, "MPI_Allreduce");
    *(void **)&mpi.bcast = dlsym(mpi.library, "MPI_Bcast");
    *(void **)&mpi.allgather = dlsym(mpi.library, "MPI_Allgather");
    *(void **)&mpi.allgatherv = dlsym(mpi.library, "MPI_Allgatherv");
    if (!mpi.init || !mpi.finalize || !mpi.abort_job || !mpi.comm_rank || !mpi.comm_size || !mpi.allreduce || !mpi.bcast
        || !mpi.allgather || !mpi.allgatherv || !mpi.world || !mpi.byte_type || !mpi.float_type || !mpi.sum) {
        dlclose(mpi.library);
        memset(&mpi, 0, sizeof mpi);
        return fail(error, errorSize, "the MPI library lacks a function this build needs", NULL);
    }
    return 0;
}

const char *rmpi_implementation(void) { return mpi.name; }

int rmpi_init(int *rank, int *size) {
    if (!mpi.library) return -1;
    int status = mpi.init(NULL, NULL);
    if (status == 0) status = mpi.comm_rank(mpi.world, rank);
    if (status == 0) status = mpi.comm_size(mpi.world, size);
    return status;
}

int rmpi_finalize(void) { return mpi.library ? mpi.finalize() : -1; }

int rmpi_abort(int code) { return mpi.library ? mpi.abort_job(mpi.world, code) : -1; }

int rmpi_allreduce_sum_float(float *values, int64_t count) {
    if (!mpi.library) return -1;
    // MPI counts are ints: large buffers go in pieces.
    for (int64_t done = 0; done < count;) {
        int piece = count - done > INT_MAX ? INT_MAX : (int)(count - done);
        int status = mpi.allreduce(mpi.in_place, values + done, piece, mpi.float_type, mpi.sum, mpi.world);
        if (status != 0) return status;
        done += piece;
    }
    return 0;
}

int rmpi_broadcast_bytes(void *bytes, int64_t count, int root) {
    if (!mpi.library) return -1;
    for (int64_t done = 0; done < count;) {
        int piece = count - done > INT_MAX ? INT_MAX : (int)(count - done);
        int status = mpi.bcast((char *)bytes + done, piece, mpi.byte_type, root, mpi.world);
        if (status != 0) return status;
        done += piece;
    }
    return 0;
}

int rmpi_allgather_int64(int64_t value, int64_t *all) {
    if (!mpi.library) return -1;
    return mpi.allgather(&value, (int)sizeof value, mpi.byte_type, all, (int)sizeof value, mpi.byte_type, mpi.world);
}

int rmpi_allgather_bytes(const void *bytes, int count, void *all, const int *counts, const int *offsets) {
    if (!mpi.library) return -1;
    return mpi.allgatherv(bytes, count, mpi.byte_type, all, counts, offsets, mpi.byte_type, mpi.world);
}
