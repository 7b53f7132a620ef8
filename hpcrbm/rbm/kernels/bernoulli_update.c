/* The whole float32 CD-k / PCD-k update of an RBM with Bernoulli visible units on a CPU with AMX,
   in one call and one OpenMP team: the twin of training_cpu.gradient_sums (its int8 path), the
   same bits. From the AMX products and layers of int8_products_amx.c and bernoulli_layer.c.

   The team packs W (its rows shared), then each thread runs the Gibbs chains of a block of the
   batch's rows to the end (and, with PCD, the data rows' hidden probabilities of a block), then the
   team makes the gradient's sums (each thread packs and multiplies a block of hidden units).
   Every row's chain is its own (its own Philox streams, exact products), so the bits do not depend
   on the number of threads. The team is woken from UPDATE_PARALLEL_WORK multiply-adds per update on
   (below it, and inside another parallel region, one thread runs it all): on a 2-vCPU Sapphire
   Rapids VM two threads take the critique's 100 x 100 x 100 update from 94 to 88 us and the demo's
   100 x 64 PCD from 86 to 79 (8e6 and 5e6 multiply-adds; docs/rbm.md). Each vCPU keeps its own
   speed on independent products; what the team loses is the data its threads exchange. */
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define UPDATE_PARALLEL_WORK (1LL << 22)

void *hpcrbm_scratch(int which, int64_t bytes);
void hpcrbm_pack_weights_team(const float *W, int64_t nh, int64_t units, int64_t w_stride, float scale, int digits,
                              int8_t *out);
int hpcrbm_binary_times_weights_t(const float *X, int64_t rows, int64_t x_stride, const int8_t *packed, int64_t nh,
                                  int64_t units, int digits, float *out, int64_t out_stride);
int hpcrbm_binary_times_weights(const float *X, int64_t rows, int64_t x_stride, const int8_t *packed, int64_t nh,
                                int64_t units, int digits, float *out, int64_t out_stride);
int hpcrbm_gradient_sums_team(const float *P0, int64_t n0, const float *Pk, int64_t m, int64_t nh, float step,
                              int digits, const float *X, int64_t units, int64_t x_stride, void *grad, int single);
int hpcrbm_bernoulli_layer(const float *sums, int64_t rows, int64_t n, float scale, const float *bias, float *probs,
                           const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3, uint32_t k0,
                           uint32_t k1, float *states);

typedef struct {
    float *rows;  /* (n0 + m, units): [v0; the chains' starts], the starts overwritten by v_k */
    int64_t n0, m, units, nh;
    int persistent, gibbs_steps, digits;
    const int8_t *packed;
    float inverse_scale; /* 2**-s */
    const float *b, *c;
    const int64_t *ids; /* (m,) the chains' ids */
    uint64_t step, stride, c3;
    uint32_t k0, k1;
    float *ph0, *phk; /* (n0, nh), (m, nh) */
} update_t;

/* [lo, hi) of n split into `parts` blocks */
static inline void block(int64_t n, int parts, int part, int64_t *lo, int64_t *hi) {
    *lo = n * part / parts;
    *hi = n * (part + 1) / parts;
}

/* out (count, nh) = p(h | x) of the rows x (count, units): a product and a layer without draws
   (scratch slot 4) */
static int hidden_probabilities(const update_t *u, const float *x, int64_t count, float *out) {
    float *hidden = hpcrbm_scratch(4, 4 * count * u->nh);
    if (!hidden) return -1;
    if (hpcrbm_binary_times_weights_t(x, count, u->units, u->packed, u->nh, u->units, u->digits, hidden, u->nh))
        return -1;
    hpcrbm_bernoulli_layer(hidden, count, u->nh, u->inverse_scale, u->c, out, u->ids, u->step, 0, u->c3, u->k0, u->k1,
                           0);
    return 0;
}

/* the chains of rows [lo, hi): training_cpu.gradient_sums's Gibbs steps for these rows, then p(h | v_k) */
static int chains(const update_t *u, int64_t lo, int64_t hi) {
    int64_t count = hi - lo, nh = u->nh, units = u->units;
    if (count <= 0) return 0;
    float *hidden = hpcrbm_scratch(4, 4 * count * nh), *h = hpcrbm_scratch(5, 4 * count * nh),
          *visible = hpcrbm_scratch(6, 4 * count * units);
    if (!hidden || !h || !visible) return -1;
    float *vk = u->rows + (u->n0 + lo) * units;
    const float *v = u->persistent ? vk : u->rows + lo * units;
    const int64_t *ids = u->ids + lo;
    for (int g = 0; g < u->gibbs_steps; g++) {
        if (hpcrbm_binary_times_weights_t(v, count, units, u->packed, nh, units, u->digits, hidden, nh)) return -1;
        /* CD: the first hidden probabilities are the gradient's p(h | v0) */
        float *probs = g == 0 && !u->persistent ? u->ph0 + lo * nh : hidden;
        hpcrbm_bernoulli_layer(hidden, count, nh, u->inverse_scale, u->c, probs, ids, u->step,
                               2 * (uint64_t)g * u->stride / 4, u->c3, u->k0, u->k1, h);
        if (hpcrbm_binary_times_weights(h, count, nh, u->packed, nh, units, u->digits, visible, units)) return -1;
        hpcrbm_bernoulli_layer(visible, count, units, u->inverse_scale, u->b, visible, ids, u->step,
                               (2 * (uint64_t)g + 1) * u->stride / 4, u->c3, u->k0, u->k1, vk);
        v = vk;
    }
    return hidden_probabilities(u, vk, count, u->phk + lo * nh);
}

/* The update's exact gradient sums grad = [W (nh, units), b, c] (the probabilities on the grid
   ``probability_step`` = 2**t; hpcrbm_gradient_sums), from W (nh, units) float32 and its product copy
   rint(W 2**s) (``scale`` = 2**s, ``digits`` digits, packed into ``packed``: hpcrbm_packed_weights_bytes),
   rows (n0 + m, units): [v0; the chains' starts] (CD: m = n0, the starts are v0 and rows[n0:] only
   receives v_k), ids (m,) the chains' ids (Philox streams (block, step, id, c3), key (k0, k1); the
   visible layer of Gibbs step g from word 4 ((2g + 1) stride / 4), the hidden one from 4 (2g stride
   / 4)); ph0 (n0, nh), phk (m, nh): the hidden probabilities of v0 and v_k; grad float32 with
   ``single``, else float64. 0, or -1 without memory. */
int hpcrbm_bernoulli_update(const float *W, float scale, int digits, int8_t *packed, float *rows,
                            int64_t n0, int64_t m, int persistent, int64_t nh, int64_t units, const float *b,
                            const float *c, const int64_t *ids, int gibbs_steps, uint64_t step, uint64_t stride,
                            uint64_t c3, uint32_t k0, uint32_t k1, float *ph0, float *phk, float probability_step,
                            int probability_digits, void *grad, int single) {
    update_t u = {rows, n0, m, units, nh, persistent, gibbs_steps, digits, packed, 1.0f / scale, b, c, ids, step,
                  stride, c3, k0, k1, ph0, phk};
    int status = 0;
    int64_t work = (n0 + m) * nh * units * (2 * (int64_t)gibbs_steps + 2);
#pragma omp parallel if (work >= UPDATE_PARALLEL_WORK) reduction(| : status)
    {
        int threads = 1, thread = 0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        thread = omp_get_thread_num();
#endif
        int64_t lo, hi;
        hpcrbm_pack_weights_team(W, nh, units, units, scale, digits, packed); /* ends with the team's barrier */
        block(m, threads, thread, &lo, &hi);
        status |= chains(&u, lo, hi);
        if (persistent) { /* p(h | v0) of a block of the data rows */
            block(n0, threads, thread, &lo, &hi);
            if (hi > lo) status |= hidden_probabilities(&u, rows + lo * units, hi - lo, ph0 + lo * nh);
        }
#pragma omp barrier
        status |= hpcrbm_gradient_sums_team(ph0, n0, phk, m, nh, probability_step, probability_digits, rows, units,
                                            units, grad, single);
    }
    return status;
}
