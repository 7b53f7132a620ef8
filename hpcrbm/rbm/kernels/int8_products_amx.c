/* Exact products of the RBM training update as int8 products on Intel AMX (Sapphire Rapids and
   later): the twin of the BLAS products of kernels/training_cpu.py (gradient_sums), the same sums.

   Every product of an update has a binary operand (0/1 states) and an integer one below 2**23 in
   magnitude (rint(W 2**s), the signed probabilities rint(p 2**t): the update's grids keep every sum
   below 2**24). The integer operand is split into D balanced base-256 digits in [-128, 127]
   (x = sum_l d_l 256**l), stacked along the free side of the product, so one AMX product
   (TDPBSSD: int8 operands, int32 sums, exact) gives every digit's sums, combined as
   sum_l 256**l C_l in int64: the integers of the float product, so the same bits.

   AMX operands: A (M', K') int8 row-major, B (K', N') in the "VNNI" layout Bv (K' / 4, 4 N'):
   Bv[k / 4][4 n + k % 4] = B[k][n]; M', N' multiples of 16, K' of 64; every row stride is padded
   past a power of two (such strides put a tile's rows in the same cache sets). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAD 64
#define PARALLEL_WORK (1LL << 24) /* multiply-adds of a product from which it is split among threads */

static inline int64_t up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* Whether a kernel of ``work`` (from ``threshold`` on worth waking OpenMP's threads) runs in a team
   of its own; else the calling thread runs it alone, in no parallel region at all: inside another
   team (the update's threads, each with its own rows) a region would be a team of one thread, which
   libgomp makes and frees for about 0.45 us on this VM, and each thread of an update calls about ten
   kernels. The kernels share their work by (part, parts) of the team, never by worksharing
   constructs, which inside another team would bind to it. */
int hpcrbm_own_team(int64_t work, int64_t threshold) {
#ifdef _OPENMP
    return work >= threshold && !omp_in_parallel();
#else
    return 0;
#endif
}

/* [lo, hi) of n split into ``parts`` blocks (every kernel of the library shares its work so) */
void hpcrbm_share(int64_t n, int parts, int part, int64_t *lo, int64_t *hi) {
    *lo = n * part / parts;
    *hi = n * (part + 1) / parts;
}

/* the calling thread's (part, parts) in the present region */
void hpcrbm_team_part(int *part, int *parts) {
    *part = 0;
    *parts = 1;
#ifdef _OPENMP
    *part = omp_get_thread_num();
    *parts = omp_get_num_threads();
#endif
}

/* the three balanced base-256 digits of x (|x| < 2**23) */
static inline void digits3(int32_t x, int32_t *d) {
    d[0] = ((x + 128) & 255) - 128;
    x = (x - d[0]) >> 8;
    d[1] = ((x + 128) & 255) - 128;
    d[2] = (x - d[1]) >> 8;
}

static inline uint32_t quad(int32_t a, int32_t b, int32_t c, int32_t d) {
    return (uint32_t)(a & 255) | (uint32_t)(b & 255) << 8 | (uint32_t)(c & 255) << 16 | (uint32_t)(d & 255) << 24;
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

int hpcrbm_amx_ready(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((d >> 24) & 1u) || !((d >> 25) & 1u)) return 0; /* AMX-TILE, AMX-INT8 */
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* out = sum_l 256**l A_l B_l over D digit blocks of one operand: with digits_in_b, A (m, k) is one
   block and B_l are the columns [l nb, l nb + n) of Bv; else A_l are the rows [l ma, l ma + m) of A
   and B one block. m, n multiples of 16, k of 64. Tiles 0-2: the digits' sums; 3-5: the digit
   blocks of the multi-digit operand; 6: the other operand. Each 16 x 16 block of sums is combined
   right away (int64) into out (float32 or float64; rows < m_out, columns < n_out). */
#define DP(c, x, y) _tile_dpbssd(c, x, y)
#define BLOCK(D)                                                                                      \
    for (int64_t b = first; b < last; b++) {                                                         \
        {                                                                                            \
            int64_t i = b / (n / 16) * 16, j = b % (n / 16) * 16;                                   \
            _tile_zero(0);                                                                           \
            if (D > 1) _tile_zero(1);                                                                \
            if (D > 2) _tile_zero(2);                                                                \
            for (int64_t kk = 0; kk < k; kk += 64) {                                                 \
                if (digits_in_b) {                                                                   \
                    _tile_loadd(6, A + i * lda + kk, lda);                                           \
                    _tile_loadd(3, Bv + (kk / 4) * ldb + 4 * j, ldb);                                \
                    DP(0, 6, 3);                                                                     \
                    if (D > 1) { _tile_loadd(4, Bv + (kk / 4) * ldb + 4 * (nb + j), ldb); DP(1, 6, 4); }     \
                    if (D > 2) { _tile_loadd(5, Bv + (kk / 4) * ldb + 4 * (2 * nb + j), ldb); DP(2, 6, 5); } \
                } else {                                                                             \
                    _tile_loadd(6, Bv + (kk / 4) * ldb + 4 * j, ldb);                                \
                    _tile_loadd(3, A + i * lda + kk, lda);                                           \
                    DP(0, 3, 6);                                                                     \
                    if (D > 1) { _tile_loadd(4, A + (ma + i) * lda + kk, lda); DP(1, 4, 6); }        \
                    if (D > 2) { _tile_loadd(5, A + (2 * ma + i) * lda + kk, lda); DP(2, 5, 6); }    \
                }                                                                                    \
            }                                                                                        \
            _tile_stored(0, sums[0], 64);                                                            \
            if (D > 1) _tile_stored(1, sums[1], 64);                                                 \
            if (D > 2) _tile_stored(2, sums[2], 64);                                                 \
            combine(sums, D, i, j, m_out, n_out, out32, out64, out_stride, transposed, last_col);             \
        }                                                                                            \
    }

#if defined(__AVX512F__)
/* the lanes of i .. i + 15 below n */
static inline __mmask16 lanes_below(int64_t n, int64_t i) {
    return n - i >= 16 ? 0xFFFF : n > i ? (__mmask16)((1u << (n - i)) - 1) : 0;
}

/* the lowest balanced base-256 digit of each lane of *x, which loses it (as digits3) */
static inline __m512i next_digit(__m512i *x) {
    const __m512i half = _mm512_set1_epi32(128), low = _mm512_set1_epi32(255);
    __m512i d = _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(*x, half), low), half);
    *x = _mm512_srai_epi32(_mm512_sub_epi32(*x, d), 8);
    return d;
}

/* the 16 x 16 int32 block v[row][column] transposed in place */
static inline void transpose16(__m512i *v) {
    __m512i t[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_epi32(v[2 * k], v[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(v[2 * k], v[2 * k + 1]);
    }
    for (int k = 0; k < 4; k++) { /* lane L of v[4k + q]: rows 4k .. 4k + 3 of column 4L + q */
        v[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
        v[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
        v[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
        v[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
    }
    for (int q = 0; q < 4; q++) {
        __m512i y0 = _mm512_shuffle_i32x4(v[q], v[4 + q], 0x44), y1 = _mm512_shuffle_i32x4(v[q], v[4 + q], 0xEE),
                y2 = _mm512_shuffle_i32x4(v[8 + q], v[12 + q], 0x44), y3 = _mm512_shuffle_i32x4(v[8 + q], v[12 + q], 0xEE);
        t[q] = _mm512_shuffle_i32x4(y0, y2, 0x88);      /* column q */
        t[4 + q] = _mm512_shuffle_i32x4(y0, y2, 0xDD);  /* column 4 + q */
        t[8 + q] = _mm512_shuffle_i32x4(y1, y3, 0x88);
        t[12 + q] = _mm512_shuffle_i32x4(y1, y3, 0xDD);
    }
    for (int k = 0; k < 16; k++) v[k] = t[k];
}

/* out (rows < m_out, columns < n_out, row stride out_stride; transposed: out[column][row]) = the block
   (i, j) of sum_l 256**l sums[l], in float32 (out32) or float64 (out64). The sums fit in int32 (every
   product's grids keep its sums below 2**24 in magnitude), so the digits are combined in int32
   (wrapping: the true sum is what remains). last_col (not transposed; of out's type, or NULL): column
   n_out - 1 of the rows below m_out - 1 goes to last_col[row] instead (the gradient's hidden-bias sums; the corner is
   dropped). */
static inline void combine(int32_t sums[3][16][16], int D, int64_t i, int64_t j, int64_t m_out, int64_t n_out,
                           float *out32, double *out64, int64_t out_stride, int transposed, void *last_col) {
    int64_t rows = m_out - i < 16 ? m_out - i : 16, cols = n_out - j < 16 ? n_out - j : 16;
    int64_t main_cols = last_col && j + cols == n_out ? cols - 1 : cols;
    __m512i v[16];
    for (int r = 0; r < 16; r++) {
        __m512i total = _mm512_load_si512(sums[D - 1][r]);
        for (int l = D - 2; l >= 0; l--) total = _mm512_add_epi32(_mm512_slli_epi32(total, 8), _mm512_load_si512(sums[l][r]));
        v[r] = total;
    }
    if (transposed) {
        transpose16(v);
        __mmask16 mask = (__mmask16)((1u << rows) - 1);
        for (int64_t c = 0; c < cols; c++) _mm512_mask_storeu_ps(out32 + (j + c) * out_stride + i, mask, _mm512_cvtepi32_ps(v[c]));
    } else {
        __mmask16 mask = (__mmask16)((1u << main_cols) - 1);
        __mmask8 low = (__mmask8)mask, high = (__mmask8)(mask >> 8);
        for (int64_t r = 0; r < rows; r++) {
            if (out32) {
                _mm512_mask_storeu_ps(out32 + (i + r) * out_stride + j, mask, _mm512_cvtepi32_ps(v[r]));
            } else {
                double *o = out64 + (i + r) * out_stride + j;
                _mm512_mask_storeu_pd(o, low, _mm512_cvtepi32_pd(_mm512_castsi512_si256(v[r])));
                _mm512_mask_storeu_pd(o + 8, high, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v[r], 1)));
            }
            if (main_cols < cols && i + r < m_out - 1) {
                int32_t lanes[16];
                _mm512_storeu_si512(lanes, v[r]);
                if (out32) ((float *)last_col)[i + r] = (float)lanes[cols - 1];
                else ((double *)last_col)[i + r] = (double)lanes[cols - 1];
            }
        }
    }
}
#else
/* last_col (not transposed; of out's type, or NULL): column n_out - 1 of rows below m_out - 1 goes to
   last_col[row] instead (the gradient's hidden-bias sums; the corner is dropped) */
static inline void combine(int32_t sums[3][16][16], int D, int64_t i, int64_t j, int64_t m_out, int64_t n_out,
                           float *out32, double *out64, int64_t out_stride, int transposed, void *last_col) {
    int64_t rows = m_out - i < 16 ? m_out - i : 16, cols = n_out - j < 16 ? n_out - j : 16;
    int64_t main_cols = last_col && j + cols == n_out ? cols - 1 : cols;
    for (int64_t r = 0; r < rows; r++) {
        int64_t total[16];
        for (int c = 0; c < 16; c++) total[c] = sums[D - 1][r][c];
        for (int l = D - 2; l >= 0; l--)
            for (int c = 0; c < 16; c++) total[c] = total[c] * 256 + sums[l][r][c];
        if (transposed)
            for (int64_t c = 0; c < cols; c++) out32[(j + c) * out_stride + i + r] = (float)total[c];
        else if (out32)
            for (int64_t c = 0; c < main_cols; c++) out32[(i + r) * out_stride + j + c] = (float)total[c];
        else
            for (int64_t c = 0; c < main_cols; c++) out64[(i + r) * out_stride + j + c] = (double)total[c];
        if (main_cols < cols && i + r < m_out - 1) {
            if (out32) ((float *)last_col)[i + r] = (float)total[cols - 1];
            else ((double *)last_col)[i + r] = (double)total[cols - 1];
        }
    }
}

#endif

/* Part ``part`` of ``parts`` of the product's 16 x 16 blocks (each block one thread's: the same sums
   on any number of threads). */
__attribute__((target("amx-tile,amx-int8"))) static void gemm_team(
    const int8_t *A, int64_t lda, int64_t ma, const int8_t *Bv, int64_t ldb, int64_t nb, int digits_in_b, int digits,
    int64_t m, int64_t n, int64_t k, int64_t m_out, int64_t n_out, float *out32, double *out64, int64_t out_stride,
    int transposed, void *last_col, int part, int parts) {
    int64_t first, last;
    hpcrbm_share(m / 16 * (n / 16), parts, part, &first, &last);
    if (first < last) {
        tile_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        for (int t = 0; t < 7; t++) {
            cfg.colsb[t] = 64;
            cfg.rows[t] = 16;
        }
        _tile_loadconfig(&cfg);
        int32_t sums[3][16][16] __attribute__((aligned(64)));
        if (digits == 1) {
            BLOCK(1)
        } else if (digits == 2) {
            BLOCK(2)
        } else {
            BLOCK(3)
        }
        _tile_release();
    }
}
#else
int hpcrbm_amx_ready(void) { return 0; }
static void gemm_team(const int8_t *A, int64_t lda, int64_t ma, const int8_t *Bv, int64_t ldb, int64_t nb,
                      int digits_in_b, int digits, int64_t m, int64_t n, int64_t k, int64_t m_out, int64_t n_out,
                      float *out32, double *out64, int64_t out_stride, int transposed, void *last_col, int part,
                      int parts) {}
#endif

/* gemm_team in a team of its own where the product is large enough to pay for waking OpenMP's
   threads (hpcrbm_own_team), else by the calling thread alone */
static void gemm_digits(const int8_t *A, int64_t lda, int64_t ma, const int8_t *Bv, int64_t ldb, int64_t nb,
                        int digits_in_b, int digits, int64_t m, int64_t n, int64_t k, int64_t m_out, int64_t n_out,
                        float *out32, double *out64, int64_t out_stride, int transposed, void *last_col) {
    if (!hpcrbm_own_team(m * n * k * digits, PARALLEL_WORK)) {
        gemm_team(A, lda, ma, Bv, ldb, nb, digits_in_b, digits, m, n, k, m_out, n_out, out32, out64, out_stride,
                  transposed, last_col, 0, 1);
        return;
    }
#pragma omp parallel
    {
        int part, parts;
        hpcrbm_team_part(&part, &parts);
        gemm_team(A, lda, ma, Bv, ldb, nb, digits_in_b, digits, m, n, k, m_out, n_out, out32, out64, out_stride,
                  transposed, last_col, part, parts);
    }
}

/* thread-local scratch, 64-byte aligned, by slot (NULL: out of memory): 0 and 1 the products' packed
   operands, 2 and 3 the gradient's, from 4 on those of bernoulli_update.c */
#define SCRATCH_SLOTS 9
static __thread void *scratch[SCRATCH_SLOTS];
static __thread int64_t scratch_bytes[SCRATCH_SLOTS];

void *hpcrbm_scratch(int which, int64_t bytes) {
    if (bytes > scratch_bytes[which]) {
        free(scratch[which]);
        scratch[which] = aligned_alloc(64, up(bytes, 64));
        scratch_bytes[which] = scratch[which] ? up(bytes, 64) : 0;
    }
    return scratch[which];
}

/* The packed product copy Wq = rint(W scale) of W (nh, units) float32 (``scale`` = 2**s: exact; rint
   rounds half to even, as NumPy's) with D digits: first Wq's digits as a left operand (digit l of
   Wq[j][i] at row l up(nh, 16) + j, column i; row stride up(units, 64) + PAD bytes), then Wq as a
   right operand in the VNNI layout (K = nh; digit l of Wq[j][i] at column l up(units, 16) + i). */
static int64_t first_bytes(int64_t nh, int64_t units, int digits) {
    return digits * up(nh, 16) * (up(units, 64) + PAD);
}

int64_t hpcrbm_packed_weights_bytes(int64_t nh, int64_t units, int digits) {
    return first_bytes(nh, units, digits) + (up(nh, 64) / 4) * (4 * digits * up(units, 16) + PAD);
}

#if defined(__AVX512F__)
/* rint(w[0..16) scale) (lanes outside ``m``: 0); rint: the default rounding mode, half to even */
static inline __m512i rounded16(const float *w, __mmask16 m, float scale) {
    return _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, w), _mm512_set1_ps(scale)));
}

/* Both layouts in one pass over W, four rows at a time, every byte the products read written (the
   padding as zeros): no memset. Part ``part`` of ``parts`` of the groups of four rows. */
static void pack_weights_team(const float *restrict W, int64_t nh, int64_t units, int64_t w_stride, float scale,
                              int digits, int8_t *restrict out, int part, int parts) {
    int64_t ma = up(nh, 16), lda = up(units, 64) + PAD, kp2 = up(nh, 64), nb2 = up(units, 16),
            ld2 = digits * nb2 + PAD / 4, first, last;
    uint32_t *restrict Bw = (uint32_t *)(out + first_bytes(nh, units, digits));
    const __m512i byte = _mm512_set1_epi32(255);
    hpcrbm_share(kp2 / 4, parts, part, &first, &last);
    for (int64_t j4 = 4 * first; j4 < 4 * last; j4 += 4) {
        for (int64_t i = 0; i < lda - PAD; i += 16) {
            __mmask16 m = lanes_below(units, i);
            __m512i x[4], quads[3];
            for (int u = 0; u < 4; u++) x[u] = j4 + u < nh ? rounded16(W + (j4 + u) * w_stride + i, m, scale)
                                                           : _mm512_setzero_si512();
            for (int l = 0; l < digits; l++) {
                quads[l] = _mm512_setzero_si512();
                for (int u = 0; u < 4; u++) {
                    __m512i d = next_digit(&x[u]);
                    if (j4 + u < ma) _mm512_mask_cvtepi32_storeu_epi8(out + (l * ma + j4 + u) * lda + i, 0xFFFF, d);
                    quads[l] = _mm512_or_si512(quads[l], _mm512_slli_epi32(_mm512_and_si512(d, byte), 8 * u));
                }
                if (i < nb2) _mm512_storeu_si512(Bw + (j4 / 4) * ld2 + l * nb2 + i, quads[l]);
            }
        }
    }
}
#else
/* (without AVX-512 there is no AMX either: never used for products; part 0 does it all) */
static void pack_weights_team(const float *restrict W, int64_t nh, int64_t units, int64_t w_stride, float scale,
                              int digits, int8_t *restrict out, int part, int parts) {
    int64_t ma = up(nh, 16), lda = up(units, 64) + PAD;
    if (part) return;
    memset(out, 0, first_bytes(nh, units, digits));
    for (int64_t j = 0; j < nh; j++) {
        const float *restrict w = W + j * w_stride;
        int8_t *restrict a0 = out + j * lda, *restrict a1 = out + (ma + j) * lda, *restrict a2 = out + (2 * ma + j) * lda;
        for (int64_t i = 0; i < units; i++) {
            int32_t d[3];
            digits3((int32_t)nearbyintf(w[i] * scale), d);
            a0[i] = (int8_t)d[0];
            if (digits > 1) a1[i] = (int8_t)d[1];
            if (digits > 2) a2[i] = (int8_t)d[2];
        }
    }
    uint32_t *restrict Bw = (uint32_t *)(out + first_bytes(nh, units, digits));
    int64_t kp2 = up(nh, 64), nb2 = up(units, 16), ld2 = digits * nb2 + PAD / 4;
    memset(Bw, 0, 4 * (kp2 / 4) * ld2);
    for (int64_t j4 = 0; j4 < nh; j4 += 4) {
        uint32_t *restrict dst = Bw + (j4 / 4) * ld2;
        uint32_t *restrict b0 = dst, *restrict b1 = dst + nb2, *restrict b2 = dst + 2 * nb2;
        for (int u = 0; u < 4 && j4 + u < nh; u++) {
            const float *restrict w = W + (j4 + u) * w_stride;
            uint32_t shift = 8 * u;
            for (int64_t i = 0; i < units; i++) {
                int32_t d[3];
                digits3((int32_t)nearbyintf(w[i] * scale), d);
                b0[i] |= (uint32_t)(d[0] & 255) << shift;
                if (digits > 1) b1[i] |= (uint32_t)(d[1] & 255) << shift;
                if (digits > 2) b2[i] |= (uint32_t)(d[2] & 255) << shift;
            }
        }
    }
}

#endif

/* pack_weights_team in a team of its own for a large W (hpcrbm_own_team), else by the calling thread */
void hpcrbm_pack_weights(const float *restrict W, int64_t nh, int64_t units, int64_t w_stride, float scale, int digits,
                         int8_t *restrict out) {
    if (!hpcrbm_own_team(nh * units, PARALLEL_WORK / 256)) {
        pack_weights_team(W, nh, units, w_stride, scale, digits, out, 0, 1);
        return;
    }
#pragma omp parallel
    {
        int part, parts;
        hpcrbm_team_part(&part, &parts);
        pack_weights_team(W, nh, units, w_stride, scale, digits, out, part, parts);
    }
}

/* B[q][r] (row stride ld, uint32) = the quad of bytes X[r][4q .. 4q + 3] (0/1 floats), for q < up(units,
   64) / 4 and r < up(rows, 16), zeros past X: the VNNI layout of X^T, every word a product reads. */
#if defined(__AVX512F__)
static void binary_quads_transposed(const float *X, int64_t rows, int64_t x_stride, int64_t units, uint32_t *B,
                                    int64_t ld) {
    for (int64_t r0 = 0; r0 < rows; r0 += 16)
        for (int64_t i0 = 0; i0 < units; i0 += 64) { /* 16 rows x 64 units: one 16 x 16 transpose of quads */
            __m512i v[16];
            for (int k = 0; k < 16; k++) {
                v[k] = _mm512_setzero_si512();
                if (r0 + k >= rows) continue;
                const float *x = X + (r0 + k) * x_stride + i0;
                for (int part = 0; part < 4; part++) {
                    int64_t i = i0 + 16 * part;
                    __mmask16 m = lanes_below(units, i);
                    __m128i bytes = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(_mm512_maskz_loadu_ps(m, x + 16 * part)));
                    if (part == 0) v[k] = _mm512_inserti32x4(v[k], bytes, 0);
                    else if (part == 1) v[k] = _mm512_inserti32x4(v[k], bytes, 1);
                    else if (part == 2) v[k] = _mm512_inserti32x4(v[k], bytes, 2);
                    else v[k] = _mm512_inserti32x4(v[k], bytes, 3);
                }
            }
            transpose16(v);
            for (int q = 0; q < 16; q++) _mm512_storeu_si512(B + (i0 / 4 + q) * ld + r0, v[q]);
        }
}
#else
static void binary_quads_transposed(const float *X, int64_t rows, int64_t x_stride, int64_t units, uint32_t *B,
                                    int64_t ld) {
    memset(B, 0, 4 * (up(units, 64) / 4) * ld);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < units; i++) B[(i / 4) * ld + r] |= (uint32_t)((int32_t)X[r * x_stride + i] & 255) << (8 * (i % 4));
}
#endif

/* out (rows, nh) float32 = X (rows, units) . W^T for X of 0/1 values (row stride x_stride), from
   the packed weights (W's digits times X^T, the sums written transposed). 0, or -1 when the
   scratch memory cannot be had (and for the two below). */
int hpcrbm_binary_times_weights_t(const float *restrict X, int64_t rows, int64_t x_stride, const int8_t *packed,
                                   int64_t nh, int64_t units, int digits, float *out, int64_t out_stride) {
    int64_t ma = up(nh, 16), kp = up(units, 64), lda = kp + PAD, np_ = up(rows, 16), ld = np_ + PAD / 4;
    uint32_t *restrict B = hpcrbm_scratch(1, 4 * (kp / 4) * ld);
    if (!B) return -1;
    binary_quads_transposed(X, rows, x_stride, units, B, ld);
    gemm_digits(packed, lda, ma, (const int8_t *)B, 4 * ld, 0, 0, digits, ma, np_, kp, nh, rows, out, NULL, out_stride, 1, NULL);
    return 0;
}

/* out (rows, units) float32 = X (rows, nh) . W for X of 0/1 values (row stride x_stride), from the
   packed weights. */
int hpcrbm_binary_times_weights(const float *restrict X, int64_t rows, int64_t x_stride, const int8_t *packed,
                                 int64_t nh, int64_t units, int digits, float *out, int64_t out_stride) {
    int64_t nb = up(units, 16), ldb = 4 * digits * nb + PAD;
    const int8_t *Bv = packed + first_bytes(nh, units, digits);
    int64_t mp = up(rows, 16), kp = up(nh, 64), lda = kp + PAD;
    int8_t *restrict A = hpcrbm_scratch(0, mp * lda);
    if (!A) return -1;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict x = X + r * x_stride;
        int8_t *restrict a = A + r * lda;
        for (int64_t i = 0; i < nh; i++) a[i] = (int8_t)x[i];
        memset(a + nh, 0, lda - nh);
    }
    memset(A + rows * lda, 0, (mp - rows) * lda);
    gemm_digits(A, lda, 0, Bv, ldb, nb, 1, digits, mp, nb, kp, rows, units, out, NULL, out_stride, 0, NULL);
    return 0;
}

/* The 64 x 16 block (rows r0.. (a multiple of 64), hidden units j0..) of S = [rint(P0 step);
   -rint(Pk step)] (rows, nh), transposed into A's digit planes: digit l of S[r][j] at A[(l ma + j) lda
   + r], rows from ``rows`` to r0 + 64 as zeros, one aligned 64-byte store per (digit, unit). The bytes
   of the balanced digits (digits3) are bytes of shifted sums: digit l of x is byte l of x + c_l (c =
   0, 0x80, 0x8080), since d_0 = x mod 256 and the rest of x is (x + 128) >> 8. */
#if defined(__AVX512F__) && defined(__AVX512VBMI__)
static void signed_digits_block(const float *P0, int64_t n0, const float *Pk, int64_t rows, int64_t nh, float step,
                                int digits, int64_t r0, int64_t j0, int8_t *A, int64_t ma, int64_t lda) {
    __m512i v[4][16];
    __mmask16 columns = lanes_below(nh, j0);
    for (int q = 0; q < 4; q++) {
        for (int k = 0; k < 16; k++) {
            int64_t r = r0 + 16 * q + k;
            if (r >= rows) {
                v[q][k] = _mm512_setzero_si512();
                continue;
            }
            const float *p = (r < n0 ? P0 + r * nh : Pk + (r - n0) * nh) + j0;
            __m512i x = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(columns, p), _mm512_set1_ps(step)));
            v[q][k] = r < n0 ? x : _mm512_sub_epi32(_mm512_setzero_si512(), x); /* rint: the default rounding mode */
        }
        transpose16(v[q]);
    }
    const int32_t offsets[3] = {0, 0x80, 0x8080};
    for (int l = 0; l < digits; l++) {
        /* byte l of dword p of (y[0], y[1]) for p < 32, of (y[2], y[3]) from p = 32 (a table of 128 bytes:
           the low 7 bits of 4 p + l) */
        uint8_t index[64];
        for (int p = 0; p < 64; p++) index[p] = (uint8_t)((4 * p + l) & 127);
        const __m512i pick = _mm512_loadu_si512(index), offset = _mm512_set1_epi32(offsets[l]);
        for (int64_t j = j0; j < nh && j < j0 + 16; j++) {
            __m512i y[4];
            for (int q = 0; q < 4; q++) y[q] = _mm512_add_epi32(v[q][j - j0], offset);
            __m512i bytes = _mm512_mask_blend_epi8(0xFFFFFFFF00000000ull, _mm512_permutex2var_epi8(y[0], pick, y[1]),
                                                   _mm512_permutex2var_epi8(y[2], pick, y[3]));
            _mm512_store_si512(A + (l * ma + j) * lda + r0, bytes);
        }
    }
}
#else
static void signed_digits_block(const float *P0, int64_t n0, const float *Pk, int64_t rows, int64_t nh, float step,
                                int digits, int64_t r0, int64_t j0, int8_t *A, int64_t ma, int64_t lda) {
    for (int64_t r = r0; r < r0 + 64; r++) {
        const float *p = r < n0 ? P0 + r * nh : Pk + (r - n0) * nh;
        for (int64_t j = j0; j < nh && j < j0 + 16; j++) {
            int32_t d[3] = {0, 0, 0};
            if (r < rows) {
                int32_t x = (int32_t)nearbyintf(p[j] * step);
                digits3(r < n0 ? x : -x, d);
            }
            for (int l = 0; l < digits; l++) A[(l * ma + j) * lda + r] = (int8_t)d[l];
        }
    }
}
#endif

/* dst[i] = the quad of rows x0 .. x3 (0/1 values) at column i < units, rows with s = 0 as zeros */
#if defined(__AVX512F__)
static inline __m512i byte_lanes(const float *x, int64_t i, __mmask16 m, int64_t present) {
    if (!present) return _mm512_setzero_si512();
    return _mm512_and_si512(_mm512_cvttps_epi32(_mm512_maskz_loadu_ps(m, x + i)), _mm512_set1_epi32(255));
}

static void four_rows_quads(const float *x0, const float *x1, const float *x2, const float *x3, int64_t s1,
                            int64_t s2, int64_t s3, int64_t units, uint32_t *dst) {
    for (int64_t i = 0; i < units; i += 16) {
        __mmask16 m = lanes_below(units, i);
        __m512i q = _mm512_or_si512(
            _mm512_or_si512(byte_lanes(x0, i, m, 1), _mm512_slli_epi32(byte_lanes(x1, i, m, s1), 8)),
            _mm512_or_si512(_mm512_slli_epi32(byte_lanes(x2, i, m, s2), 16), _mm512_slli_epi32(byte_lanes(x3, i, m, s3), 24)));
        _mm512_mask_storeu_epi32(dst + i, m, q);
    }
}
#else
static void four_rows_quads(const float *x0, const float *x1, const float *x2, const float *x3, int64_t s1,
                            int64_t s2, int64_t s3, int64_t units, uint32_t *dst) {
    for (int64_t i = 0; i < units; i++)
        dst[i] = quad((int32_t)x0[i], (int32_t)x1[i] * s1, (int32_t)x2[i] * s2, (int32_t)x3[i] * s3);
}
#endif

/* The gradient's exact sums of one update, into grad = [W (nh, units), b (units), c (nh)] (float32 with
   ``single``, else float64: integers below 2**24, exact in either):
   with S (nh, n0 + m) = [rint(P0 step), -rint(Pk step)]^T (P0 (n0, nh), Pk (m, nh) the hidden
   probabilities, row stride nh; step = 2**t, so |S| < 2**23 in ``digits`` digits) and X (n0 + m,
   units) the visible rows of both phases (0/1 values, row stride x_stride; the first n0 from X, the
   others from Xk): W = S X, b = the column sums of X's first n0 rows minus those of the others, c = the
   row sums of S. All three come from one product: S gains a row of +1 (n0 times) and -1 (m times), X a
   column of ones. Part ``thread`` of ``threads``, every thread of the calling team (or the calling thread
   alone) calling it: X's packing shared; each thread packs and multiplies S's rows of a block of
   hidden units. */
static int gradient_sums_team(const float *restrict P0, int64_t n0, const float *restrict Pk, int64_t m, int64_t nh,
                              float step, int digits, const float *restrict X, const float *restrict Xk,
                              int64_t units, int64_t x_stride, void *grad, int single, int thread, int threads) {
    int64_t rows = n0 + m, ma = up(nh + 1, 16), kp = up(rows, 64), lda = kp + PAD, np_ = up(units + 1, 16),
            ld = np_ + PAD / 4;
    int8_t *A;
    uint32_t *B;
    if (threads > 1) {
#pragma omp single copyprivate(A, B)
        { /* one thread's scratch, shared by the team for this call */
            A = hpcrbm_scratch(2, digits * ma * lda);
            B = hpcrbm_scratch(3, 4 * (kp / 4) * ld);
        }
    } else {
        A = hpcrbm_scratch(2, digits * ma * lda);
        B = hpcrbm_scratch(3, 4 * (kp / 4) * ld);
    }
    if (!A || !B) return -1;
    /* this thread's rows [lo, hi) of A and of the product (blocks of 16 hidden units): it packs and
       multiplies them itself, so A is never read across threads */
    int64_t lo = ma / 16 * thread / threads * 16, hi = ma / 16 * (thread + 1) / threads * 16;
    /* A: S's digits (columns below rows), the +-1 row (row nh of digit 0), zeros elsewhere (whole
       rows of A, 64-byte aligned: no cache line shared between threads) */
    for (int64_t j0 = lo; j0 < hi; j0 += 16) {
        for (int64_t r0 = 0; r0 < kp && j0 < nh; r0 += 64)
            signed_digits_block(P0, n0, Pk, rows, nh, step, digits, r0, j0, A, ma, lda);
        for (int64_t j = j0 > nh ? j0 : nh; j < j0 + 16; j++) /* the +-1 row and the zero rows past it */
            for (int l = 0; l < digits; l++) {
                int8_t *a = A + (l * ma + j) * lda;
                memset(a, 0, kp);
                if (j == nh && l == 0)
                    for (int64_t r = 0; r < rows; r++) a[r] = r < n0 ? 1 : -1;
            }
    }
    /* B: X's quads and the column of ones, zeros elsewhere, shared (then the barrier: B complete) */
    int64_t q0, q1;
    hpcrbm_share(kp / 4, threads, thread, &q0, &q1);
    for (int64_t q = q0; q < q1; q++) {
        uint32_t *dst = B + q * ld;
        int64_t r4 = 4 * q;
        if (r4 >= rows) {
            memset(dst, 0, 4 * ld);
            continue;
        }
        const float *x[4];
        int64_t present[4];
        for (int k = 0; k < 4; k++) { /* rows past the end: row r4 again, as zeros */
            int64_t r = r4 + k < rows ? r4 + k : r4;
            present[k] = r4 + k < rows;
            x[k] = r < n0 ? X + r * x_stride : Xk + (r - n0) * x_stride;
        }
        four_rows_quads(x[0], x[1], x[2], x[3], present[1], present[2], present[3], units, dst);
        dst[units] = quad(1, (int32_t)present[1], (int32_t)present[2], (int32_t)present[3]);
        memset(dst + units + 1, 0, 4 * (ld - units - 1));
    }
    if (threads > 1) {
#pragma omp barrier
    }
    /* rows [lo, hi) of the product, by this thread alone (inside the team) */
    char *out = grad;
    int64_t item = single ? 4 : 8;
    if (hi > lo)
        gemm_digits(A + lo * lda, lda, ma, (const int8_t *)B, 4 * ld, 0, 0, digits, hi - lo, np_, kp, nh + 1 - lo,
                    units + 1, single ? (float *)(out + lo * units * item) : NULL,
                    single ? NULL : (double *)(out + lo * units * item), units, 0, out + (nh * units + units + lo) * item);
    return 0;
}

/* gradient_sums_team in a team of its own for a large product (hpcrbm_own_team), else by the calling
   thread alone */
int hpcrbm_gradient_rows(const float *restrict P0, int64_t n0, const float *restrict Pk, int64_t m, int64_t nh,
                         float step, int digits, const float *restrict X, const float *restrict Xk, int64_t units,
                         int64_t x_stride, void *grad, int single) {
    if (!hpcrbm_own_team((n0 + m) * (nh + 1) * (units + 1) * digits, PARALLEL_WORK))
        return gradient_sums_team(P0, n0, Pk, m, nh, step, digits, X, Xk, units, x_stride, grad, single, 0, 1);
    int status = 0;
#pragma omp parallel reduction(| : status)
    {
        int part, parts;
        hpcrbm_team_part(&part, &parts);
        status |= gradient_sums_team(P0, n0, Pk, m, nh, step, digits, X, Xk, units, x_stride, grad, single, part,
                                     parts);
    }
    return status;
}

/* hpcrbm_gradient_rows of X's rows: the n0 of the positive phase, then the m of the negative one */
int hpcrbm_gradient_sums(const float *restrict P0, int64_t n0, const float *restrict Pk, int64_t m, int64_t nh,
                         float step, int digits, const float *restrict X, int64_t units, int64_t x_stride,
                         void *grad, int single) {
    return hpcrbm_gradient_rows(P0, n0, Pk, m, nh, step, digits, X, X + n0 * x_stride, units, x_stride, grad, single);
}
