/* The node sum's barrier and sum (parallel/node_sum.py: NodeSum), in C for its atomics: ranks on
   one node sum an array through a shared-memory window without MPI calls, from Python or from a
   numba loop (the training's compiled epoch).

   Rank r's region of the window starts at bases[r]: its arrival count (int64, a cache line of its
   own), then two slots of n values (float32 with ``single``, else float64). Call c of the sum uses
   slot c % 2: a rank writes its part there, stores c + 1 as its count (release) and waits until
   every rank's count reaches c + 1 (acquire); then each rank adds the slots of call c in rank
   order. A rank writes slot c % 2 again at call c + 2, which it reaches only after every rank
   arrived at call c + 1, so after every rank finished adding call c's slots. */
#include <sched.h>
#include <stdint.h>
#ifdef __CLDEMOTE__
#include <immintrin.h>
#endif

#define LINE 64

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* this rank's arrival at call ``call`` (its part of n values written), then the wait for every rank's
   (spinning, then yielding the core: ranks may outnumber cores). Where the CPU has CLDEMOTE the part's
   cache lines are first pushed towards the shared cache, where the other cores read them sooner
   than from this core's own (two ranks of the demo's shape: 2% faster an update). */
void hpcrbm_node_arrive(const int64_t *bases, int32_t ranks, int32_t rank, int64_t n, int32_t single, int64_t call) {
#ifdef __CLDEMOTE__
    char *part = (char *)bases[rank] + LINE + (call & 1) * n * (single ? 4 : 8);
    for (int64_t byte = 0; byte < n * (single ? 4 : 8); byte += LINE) _cldemote(part + byte);
#endif
    __atomic_store_n((int64_t *)bases[rank], call + 1, __ATOMIC_RELEASE);
    for (int32_t r = 0; r < ranks; r++) {
        const int64_t *count = (const int64_t *)bases[r];
        for (int spins = 0; __atomic_load_n(count, __ATOMIC_ACQUIRE) <= call; spins++) {
            if (spins < 1000) relax();
            else sched_yield();
        }
    }
}

#define ADD(type)                                                                             \
    {                                                                                             \
        type *restrict o = out;                                                                   \
        const type *restrict a = (const type *)((const char *)bases[0] + offset),                 \
                             *restrict b = (const type *)((const char *)bases[1] + offset);       \
        for (int64_t i = 0; i < n; i++) o[i] = a[i] + b[i];                                       \
        for (int32_t r = 2; r < ranks; r++) {                                                     \
            const type *restrict s = (const type *)((const char *)bases[r] + offset);             \
            for (int64_t i = 0; i < n; i++) o[i] += s[i];                                         \
        }                                                                                         \
    }

/* out (n,) = the sum over the ranks (two or more), in rank order, of the slots of call ``call`` */
void hpcrbm_node_add(const int64_t *bases, int32_t ranks, int64_t n, int32_t single, int64_t call, void *out) {
    int64_t offset = LINE + (call & 1) * n * (single ? 4 : 8);
    if (single) ADD(float) else ADD(double)
}
