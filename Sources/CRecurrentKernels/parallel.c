// A small pool of worker threads for splitting one kernel call into parts.
//
// Workers spin for a short while after each job before they sleep, so that the products of a
// training or inference loop, which come one after another, find them awake: waking a sleeping
// thread costs tens of microseconds on some machines (virtual CPUs especially), longer than a
// whole mid-sized product. One job runs at a time; a call made while another job runs (from
// another thread, or from inside a part) runs its parts on the calling thread instead.
#include "RecurrentKernels.h"
#include "kernels_internal.h"

#if defined(_WIN32)

void rk_parallel_for(int parts, int threads, rk_part_fn fn, void *context) {
    (void)threads;
    for (int part = 0; part < parts; part++) fn(context, part);
}

#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

// How long an idle worker keeps polling for the next job before it sleeps.
#define RK_SPIN_SECONDS 200e-6
#define RK_MAX_WORKERS 63

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct {
    rk_part_fn fn;
    void *context;
    int parts;
    int helpers;        // workers with an index below this take part
    unsigned long generation;
    atomic_int next;    // the next part to claim
    atomic_int done;    // parts finished
} job_t;

static job_t job;
static _Atomic(job_t *) current = NULL;     // the job workers may join, or NULL
static atomic_ulong generation = 0;         // bumped for every job
static atomic_int busy = 0;                 // workers looking at `current`
static atomic_int sleepers = 0;
static atomic_int workers = 0;              // started so far
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;    // one job at a time
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static void run_parts(job_t *j) {
    for (;;) {
        int part = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (part >= j->parts) return;
        j->fn(j->context, part);
        atomic_fetch_add_explicit(&j->done, 1, memory_order_release);
    }
}

static void *worker_main(void *argument) {
    int index = (int)(intptr_t)argument;
    unsigned long seen = atomic_load(&generation);
    for (;;) {
        // Wait for a new job: poll, then sleep.
        double start = seconds_now();
        unsigned polls = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            cpu_relax();
            if (++polls % 64 == 0 && seconds_now() - start > RK_SPIN_SECONDS) {
                pthread_mutex_lock(&sleep_lock);
                atomic_fetch_add(&sleepers, 1);
                while (atomic_load(&generation) == seen) pthread_cond_wait(&wake, &sleep_lock);
                atomic_fetch_sub(&sleepers, 1);
                pthread_mutex_unlock(&sleep_lock);
            }
        }
        seen = atomic_load(&generation);
        // Join it if it is still running; `busy` keeps the caller from reusing `job` meanwhile.
        atomic_fetch_add(&busy, 1);
        job_t *j = atomic_load(&current);
        if (j && j->generation == seen && index < j->helpers) run_parts(j);
        atomic_fetch_sub(&busy, 1);
    }
    return NULL;
}

// Starts workers until there are `count` (false if the system refuses).
static int ensure_workers(int count) {
    while (atomic_load(&workers) < count) {
        int index = atomic_load(&workers);
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)index);
        pthread_attr_destroy(&attributes);
        if (failed) return 0;
        atomic_store(&workers, index + 1);
    }
    return 1;
}

void rk_parallel_for(int parts, int threads, rk_part_fn fn, void *context) {
    int helpers = threads - 1 < parts - 1 ? threads - 1 : parts - 1;
    if (helpers > RK_MAX_WORKERS) helpers = RK_MAX_WORKERS;
    if (helpers <= 0 || pthread_mutex_trylock(&run_lock) != 0) {
        for (int part = 0; part < parts; part++) fn(context, part);
        return;
    }
    if (!ensure_workers(helpers)) helpers = atomic_load(&workers);

    job.fn = fn;
    job.context = context;
    job.parts = parts;
    job.helpers = helpers;
    job.generation = atomic_load(&generation) + 1;
    atomic_store(&job.next, 0);
    atomic_store(&job.done, 0);
    atomic_store(&current, &job);
    atomic_store(&generation, job.generation);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }

    run_parts(&job);
    // The workers' last parts: poll, and yield now and then in case one of them was preempted
    // (on a busy machine it may be waiting for this very core).
    for (unsigned polls = 1; atomic_load_explicit(&job.done, memory_order_acquire) < parts; polls++) {
        cpu_relax();
        if (polls % 4096 == 0) sched_yield();
    }

    // No worker may still be reading `job` when the next call refills it.
    atomic_store(&current, NULL);
    while (atomic_load(&busy) > 0) cpu_relax();
    pthread_mutex_unlock(&run_lock);
}

#endif
