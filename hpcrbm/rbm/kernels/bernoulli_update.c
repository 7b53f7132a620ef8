/* The whole float32 CD-k / PCD-k update of an RBM with Bernoulli visible units on a CPU with AMX,
   in one call and one OpenMP team: the twin of training_cpu.gradient_sums (its int8 path), the
   same bits. From the AMX products and layers of int8_products_amx.c and bernoulli_layer.c.

   Each thread of the team packs W into a copy of its own, gathers a block of the batch's data rows,
   runs their Gibbs chains to the end (and, with PCD, the data rows' hidden probabilities of a block)
   and sums the gradient of its rows; after the team's one barrier each thread adds the threads'
   partial sums of a block of the gradient's elements and, in one rank's epoch
   (hpcrbm_bernoulli_epoch), makes the SGD step of those elements. A thread reads no other thread's
   data but those partial sums and, at the next update, W: on a 2-vCPU Sapphire Rapids VM a cache
   line written by one vCPU costs the other about 20 ns, and a team whose threads shared the packed
   W, the rows and every row's probabilities (each packing and multiplying a block of hidden units)
   spent as long on the 100 x 100 x 100 update's products as one thread alone. Every row's chain is
   its own (its own Philox streams, exact products) and every partial sum an integer below 2**24
   (any sum of the rows' terms is, as the whole one is), so the bits do not depend on the number of
   threads. The team is woken from UPDATE_PARALLEL_WORK multiply-adds per update on (below it, and
   inside another parallel region, one thread runs it all); the products and layers that each
   thread calls run on that thread alone, in no region of their own (hpcrbm_own_team). */
#include <stdint.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define UPDATE_PARALLEL_WORK (1LL << 22)
#define MOST_THREADS 64     /* of the update's team */
#define SCRATCH_PACKED 7    /* a thread's copy of the packed weights (threads from 1 on) */
#define SCRATCH_PARTIAL 8   /* a thread's partial gradient sums */

void *hpcrbm_scratch(int which, int64_t bytes);
void hpcrbm_share(int64_t n, int parts, int part, int64_t *lo, int64_t *hi);
void hpcrbm_team_part(int *part, int *parts);
int64_t hpcrbm_packed_weights_bytes(int64_t nh, int64_t units, int digits);
void hpcrbm_pack_weights(const float *W, int64_t nh, int64_t units, int64_t w_stride, float scale, int digits,
                         int8_t *out);
int hpcrbm_binary_times_weights_t(const float *X, int64_t rows, int64_t x_stride, const int8_t *packed, int64_t nh,
                                  int64_t units, int digits, float *out, int64_t out_stride);
int hpcrbm_binary_times_weights(const float *X, int64_t rows, int64_t x_stride, const int8_t *packed, int64_t nh,
                                int64_t units, int digits, float *out, int64_t out_stride);
int hpcrbm_gradient_rows(const float *P0, int64_t n0, const float *Pk, int64_t m, int64_t nh, float step, int digits,
                         const float *X, const float *Xk, int64_t units, int64_t x_stride, void *grad, int single);
int hpcrbm_bernoulli_layer(const float *sums, int64_t rows, int64_t n, float scale, const float *bias, float *probs,
                           const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3, uint32_t k0,
                           uint32_t k1, float *states);

typedef struct {
    const float *data;          /* the rank's rows (row stride data_stride) */
    const int64_t *local_rows;  /* (n0,) the batch's rows of data: gathered into rows, or NULL: rows given */
    int64_t data_stride;
    const float *W;             /* (nh, units) */
    float *rows;                /* (n0, units): v0 */
    const float *starts;        /* (m, units): PCD's chain starts (CD: the data rows) */
    float *negative;            /* (m, units): v_k (may be starts: the chains updated in place) */
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

/* training_cpu.sgd_step of float32 parameters from float32 gradient sums, element by element */
typedef struct {
    float *W, *b, *c, *vW, *vb, *vc; /* flat; updated in place */
    double factor_W, factor_b; /* learning_rate / batch_size / 2**t (W and c), learning_rate / batch_size (b) */
    float momentum, decay;               /* decay: learning_rate times the weight decay (W only) */
    int biases;
} sgd_t;


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
    float *vk = u->negative + lo * units;
    if (u->persistent && u->starts != u->negative) memcpy(vk, u->starts + lo * units, 4 * count * units);
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

/* params[e] and velocity[e] for e in [0, n) after one step of training_cpu._sgd (float32 parameters,
   its operations and roundings): step = g factor (float64); v = (v momentum) + step rounded once (or v
   = step); v -= decay param; param += v. Branch-free loops: they vectorise. */
static void sgd_block(float *restrict param, float *restrict velocity, const float *restrict g, int64_t n,
                      double factor, float momentum, float decay) {
    if (momentum != 0.0f)
        for (int64_t e = 0; e < n; e++)
            velocity[e] = (float)((double)(velocity[e] * momentum) + (double)g[e] * factor);
    else
        for (int64_t e = 0; e < n; e++) velocity[e] = (float)((double)g[e] * factor);
    if (decay != 0.0f)
        for (int64_t e = 0; e < n; e++) velocity[e] = velocity[e] - decay * param[e];
    for (int64_t e = 0; e < n; e++) param[e] = param[e] + velocity[e];
}

/* the largest |w[e]|, e < n: the largest of the magnitudes' bit patterns, which order like the
   magnitudes (training_cpu._largest_single) */
static float largest_magnitude(const float *restrict w, int64_t n) {
    uint32_t top = 0;
    for (int64_t e = 0; e < n; e++) {
        uint32_t bits;
        memcpy(&bits, w + e, 4);
        bits &= 0x7FFFFFFFu;
        top = bits > top ? bits : top;
    }
    float largest;
    memcpy(&largest, &top, 4);
    return largest;
}

/* grad[first, last) = the sum of the threads' partial sums (integers below 2**24: exact in any
   order) and, with ``sgd``, the SGD step of those elements of [W (nW), b (nb), c]; returns the
   largest |W| of the block's new weights (0 without sgd) */
static float sum_and_step(void *const *partial, int threads, int64_t first, int64_t last, void *grad, int single,
                          const sgd_t *sgd, int64_t nW, int64_t nb) {
    int64_t n = last - first;
    if (n <= 0) return 0.0f;
    if (!single) {
        double *restrict out = (double *)grad + first;
        if (partial[0] != grad) memcpy(out, (const double *)partial[0] + first, 8 * n);
        for (int t = 1; t < threads; t++) {
            const double *restrict part = (const double *)partial[t] + first;
            for (int64_t e = 0; e < n; e++) out[e] += part[e];
        }
        return 0.0f;
    }
    float *restrict out = (float *)grad + first;
    if (partial[0] != grad) memcpy(out, (const float *)partial[0] + first, 4 * n);
    for (int t = 1; t < threads; t++) {
        const float *restrict part = (const float *)partial[t] + first;
        for (int64_t e = 0; e < n; e++) out[e] += part[e];
    }
    if (!sgd) return 0.0f;
    const float *g = grad;
    int64_t endW = last < nW ? last : nW, endb = last < nW + nb ? last : nW + nb;
    float largest = 0.0f;
    if (endW > first) {
        sgd_block(sgd->W + first, sgd->vW + first, g + first, endW - first, sgd->factor_W, sgd->momentum, sgd->decay);
        largest = largest_magnitude(sgd->W + first, endW - first);
    }
    if (sgd->biases) {
        int64_t lo = first > nW ? first : nW;
        if (endb > lo)
            sgd_block(sgd->b + lo - nW, sgd->vb + lo - nW, g + lo, endb - lo, sgd->factor_b, sgd->momentum, 0.0f);
        lo = first > nW + nb ? first : nW + nb;
        if (last > lo)
            sgd_block(sgd->c + lo - nW - nb, sgd->vc + lo - nW - nb, g + lo, last - lo, sgd->factor_W, sgd->momentum,
                      0.0f);
    }
    return largest;
}

/* The team's shared state: the threads' partial sums and their largest |W| */
typedef struct {
    void *partial[MOST_THREADS];
    float tops[2][MOST_THREADS]; /* the threads' largest |W|, alternating between updates */
} shared_t;

/* one thread's part of the update ``u`` in a team of ``threads`` (every thread of the team calls it;
   it holds the team's one barrier): grad = the exact gradient sums (float32 with ``single``, else
   float64) and, with ``sgd`` (float32 only), the SGD step; tops[thread] = max |W| of the elements
   this thread stepped. 0, or -1 without memory. */
static int thread_part(const update_t *u, int thread, int threads, shared_t *shared, float *tops, void *grad,
                       int single, float probability_step, int probability_digits, const sgd_t *sgd) {
    int64_t n0 = u->n0, m = u->m, nh = u->nh, units = u->units;
    int64_t nW = nh * units, elements = nW + units + nh, item = single ? 4 : 8;
    int status = 0;
    void **partial = shared->partial;
    update_t mine = *u;
    int64_t lo, hi, lo0, hi0;
    hpcrbm_share(m, threads, thread, &lo, &hi);
    if (u->persistent)
        hpcrbm_share(n0, threads, thread, &lo0, &hi0);
    else
        lo0 = lo, hi0 = hi; /* CD: the chains start from the data rows */
    if (threads > 1) {
        mine.packed = thread ? hpcrbm_scratch(SCRATCH_PACKED, hpcrbm_packed_weights_bytes(nh, units, u->digits))
                             : u->packed;
        partial[thread] = hpcrbm_scratch(SCRATCH_PARTIAL, item * elements);
    } else {
        partial[thread] = grad;
    }
    if (mine.packed && partial[thread]) {
        hpcrbm_pack_weights(u->W, nh, units, units, 1.0f / u->inverse_scale, u->digits, (int8_t *)mine.packed);
        if (u->local_rows)
            for (int64_t r = lo0; r < hi0; r++)
                memcpy(u->rows + r * units, u->data + u->local_rows[r] * u->data_stride, 4 * units);
        status |= chains(&mine, lo, hi);
        if (u->persistent && hi0 > lo0) /* p(h | v0) of a block of the data rows */
            status |= hidden_probabilities(&mine, u->rows + lo0 * units, hi0 - lo0, u->ph0 + lo0 * nh);
        status |= hpcrbm_gradient_rows(u->ph0 + lo0 * nh, hi0 - lo0, u->phk + lo * nh, hi - lo, nh,
                                       probability_step, probability_digits, u->rows + lo0 * units,
                                       u->negative + lo * units, units, units, partial[thread], single);
    } else {
        status = -1;
    }
    tops[thread] = 0.0f;
    if (threads > 1) {
#pragma omp barrier
        /* each thread a block of whole cache lines of the gradient's elements */
        int64_t lanes = 64 / item, first, last;
        hpcrbm_share((elements + lanes - 1) / lanes, threads, thread, &first, &last);
        first *= lanes;
        last = last * lanes < elements ? last * lanes : elements;
        for (int t = 0; t < threads; t++)
            if (!partial[t]) first = last; /* a thread without memory: status -1 */
        tops[thread] = sum_and_step(partial, threads, first, last, grad, single, sgd, nW, units);
    } else if (sgd && status == 0) {
        tops[thread] = sum_and_step(partial, 1, 0, elements, grad, single, sgd, nW, units);
    }
    return status;
}

/* the team of an update of ``work`` multiply-adds: OpenMP's threads (at most MOST_THREADS) from
   UPDATE_PARALLEL_WORK on, else one */
static int team_size(int64_t work) {
    int team = 1;
#ifdef _OPENMP
    team = omp_get_max_threads() < MOST_THREADS ? omp_get_max_threads() : MOST_THREADS;
#endif
    return work >= UPDATE_PARALLEL_WORK ? team : 1;
}

/* the largest of tops[0, threads) */
static float largest_of(const float *tops, int threads) {
    float largest = 0.0f;
    for (int t = 0; t < threads; t++) largest = tops[t] > largest ? tops[t] : largest;
    return largest;
}

/* The update in one team (above), without the SGD step */
static int team_update(const update_t *u, void *grad, int single, float probability_step, int probability_digits) {
    int64_t work = (u->n0 + u->m) * u->nh * u->units * (2 * (int64_t)u->gibbs_steps + 2);
    int status = 0, team = team_size(work);
    shared_t shared;
    if (team == 1) /* no region: one of a thread would cost about 0.45 us an update */
        return thread_part(u, 0, 1, &shared, shared.tops[0], grad, single, probability_step, probability_digits,
                           NULL);
#pragma omp parallel num_threads(team) reduction(| : status)
    {
        int thread, threads;
        hpcrbm_team_part(&thread, &threads);
        status |= thread_part(u, thread, threads, &shared, shared.tops[0], grad, single, probability_step,
                              probability_digits, NULL);
    }
    return status;
}

/* training_cpu.grid_exponent: the largest s <= 32 with n rint(largest 2**s) <= 2**mantissa (-1: none) */
static int grid_exponent(double largest, int64_t n, int mantissa) {
    double limit = (double)((INT64_C(1) << mantissa) / n);
    int s = 32;
    while (s >= 0 && nearbyint(ldexp(largest, s)) > limit) s--;
    return s;
}

/* int8_products.digits_needed: the fewest balanced base-256 digits that hold every integer of
   magnitude <= largest */
static int digits_needed(double largest) {
    int n = 1;
    double bound = 127.0;
    while (largest > bound) {
        n++;
        bound = bound * 256.0 + 127.0;
    }
    return n;
}

/* An epoch of one rank's float32 updates with their SGD steps in one call and one team: the bits of
   training_cpu.epoch_updates on one rank. Update i (step first_update + i) takes the batch rows
   order[i batch_size, (i + 1) batch_size) of data (row stride data_stride); CD: the
   chains' ids are those rows, v_k goes to negative (batch_size, units); PCD: chain_ids (m,), the
   chains (m, units) stepped in place. Before each update its weight grid s from the largest |W|
   (``largest`` before the first, then each step's): an s below ``floor`` ends the epoch before that
   update. rows (batch_size, units), ph0 (batch_size, nh), phk (m, nh), packed: scratch
   (packed: hpcrbm_packed_weights_bytes of 4 digits); grad (nh units + units + nh) float32;
   velocities [vW, vb, vc] (flat, stepped in place with W, b, c); settings [learning_rate /
   batch_size / 2**t, learning_rate / batch_size, momentum, learning_rate weight_decay, biases]
   (training_cpu.sgd_step's). Returns the updates made (-1 without memory);
   *grid = the coarsest s of theirs (32 if none). */
int64_t hpcrbm_bernoulli_epoch(const float *data, int64_t data_stride, const int64_t *order,
                               int64_t batches, int64_t batch_size, int persistent, const int64_t *chain_ids,
                               float *chains, int64_t m, float *rows, float *negative, float *W, float *b, float *c,
                               float *const *velocities, const double *settings, int64_t nh, int64_t units,
                               int gibbs_steps, uint64_t first_update, uint64_t stride, uint64_t c3, uint32_t k0,
                               uint32_t k1, float *ph0, float *phk, int8_t *packed, float probability_step,
                               int probability_digits, float *grad, double largest, int floor, int32_t *grid) {
    if (!persistent) m = batch_size;
    int64_t work = (batch_size + m) * nh * units * (2 * (int64_t)gibbs_steps + 2), made = batches;
    int status = 0, team = team_size(work), coarsest = 32;
    shared_t shared;
    sgd_t sgd = {W, b, c, velocities[0], velocities[1], velocities[2], settings[0], settings[1],
                 (float)settings[2], (float)settings[3], settings[4] != 0.0};
#pragma omp parallel num_threads(team) if (team > 1) reduction(| : status)
    {
        int thread, threads;
        hpcrbm_team_part(&thread, &threads);
        double top = largest; /* the same on every thread */
        for (int64_t i = 0; i < batches; i++) {
            int s = grid_exponent(top, nh > units ? nh : units, 24);
            if (s < floor) { /* every thread stops here: the same top */
                if (thread == 0) made = i;
                break;
            }
            if (s < coarsest && thread == 0) coarsest = s;
            const int64_t *batch = order + i * batch_size;
            update_t u = {data, batch, data_stride, W, rows, chains, persistent ? chains : negative, batch_size,
                          m, units, nh, persistent, gibbs_steps, digits_needed(nearbyint(ldexp(top, s))), packed,
                          ldexpf(1.0f, -s), b, c, persistent ? chain_ids : batch, first_update + i, stride, c3, k0,
                          k1, ph0, phk};
            float *tops = shared.tops[i & 1];
            status |= thread_part(&u, thread, threads, &shared, tops, grad, 1, probability_step,
                                  probability_digits, &sgd);
#pragma omp barrier
            top = largest_of(tops, threads); /* every step made */
        }
    }
    *grid = coarsest;
    return status ? -1 : made;
}

/* The update's exact gradient sums grad = [W (nh, units), b, c] (the probabilities on the grid
   ``probability_step`` = 2**t; hpcrbm_gradient_sums) from W (nh, units) float32 and its product copy
   rint(W 2**s) (``scale`` = 2**s, ``digits`` digits, packed into ``packed``: hpcrbm_packed_weights_bytes).
   rows (n0, units): v0, gathered from data (row stride data_stride) at local_rows, or given
   (local_rows NULL); negative (m, units): v_k, the Gibbs chains started from the data rows (CD) or
   from ``starts`` (PCD; negative may be starts); ids (m,) the chains' ids (Philox streams (block,
   step, id, c3), key (k0, k1); the visible layer of Gibbs step g from word 4 ((2g + 1) stride / 4),
   the hidden one from 4 (2g stride / 4)); ph0 (n0, nh), phk (m, nh): the hidden probabilities of v0
   and v_k; grad float32 with ``single``, else float64. 0, or -1 without memory. */
int hpcrbm_bernoulli_update(const float *data, int64_t data_stride, const int64_t *local_rows, float *rows,
                            const float *starts, float *negative, const float *W, float scale, int digits,
                            int8_t *packed, int64_t n0, int64_t m, int persistent, int64_t nh, int64_t units,
                            const float *b, const float *c, const int64_t *ids, int gibbs_steps, uint64_t step,
                            uint64_t stride, uint64_t c3, uint32_t k0, uint32_t k1, float *ph0, float *phk,
                            float probability_step, int probability_digits, void *grad, int single) {
    update_t u = {data, local_rows, data_stride, W, rows, starts, negative, n0, m, units, nh, persistent,
                  gibbs_steps, digits, packed, 1.0f / scale, b, c, ids, step, stride, c3, k0, k1, ph0, phk};
    return team_update(&u, grad, single, probability_step, probability_digits);
}
