/* One layer of the float32 training update on a CPU with AVX-512, beside the AMX products
   (int8_products_amx.c, the same library): the twin of training_cpu._probabilities and
   training_cpu.sample_bernoulli_rows, the same bits.

   probs[r][j] = 1 / (1 + exp(-(sums[r][j] scale + bias[j]))) by the portable float32 sigmoid
   (training_cpu.py: Cody-Waite with cephes's constants, the Taylor series to r**7 / 7!, 2**k from
   its bits, one IEEE division; every operation a float32 one, none fused: the library is built with
   -ffp-contract=off), and, where ``states`` is given, states[r][j] = 1 where the uniform of column
   j of row r is below probs[r][j], else 0. The uniform is word 4 first_block + j of the Philox4x32-10
   stream (counter (first_block + j / 4, step, ids[r], c3), key (k0, k1)), as
   ((word >> 8) + 0.5) 2**-24 rounded to float32 (rng/uniform.py): the odd integer
   2 (word >> 8) + 1 < 2**25 rounded to float32, times 2**-25. Eight Philox blocks per vector (their
   32-bit words in 64-bit lanes, vpmuludq). Rows are split among OpenMP's threads from
   PARALLEL_ELEMENTS values on, outside other teams (hpcrbm_own_team; each row one thread's: the
   same bits on any number of threads). */
#include <stdint.h>

#define PARALLEL_ELEMENTS (1LL << 15)

int hpcrbm_own_team(int64_t work, int64_t threshold);
void hpcrbm_share(int64_t n, int parts, int part, int64_t *lo, int64_t *hi);
void hpcrbm_team_part(int *part, int *parts);

#if defined(__AVX512F__)
#include <immintrin.h>

static inline __m512 portable_sigmoid(__m512 x) {
    const __m512 clamp = _mm512_set1_ps(80.0f), lowest = _mm512_set1_ps(-80.0f);
    __m512 t = _mm512_xor_ps(x, _mm512_set1_ps(-0.0f)); /* -x */
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, clamp, _CMP_GT_OQ), t, clamp);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, lowest, _CMP_LT_OQ), t, lowest);
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps((float)1.44269504088896338700)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(_mm512_sub_ps(t, _mm512_mul_ps(k, _mm512_set1_ps(0.693359375f))),
                             _mm512_mul_ps(k, _mm512_set1_ps((float)-2.12194440e-4)));
    __m512 p = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps((float)(1.0 / 5040)), r), _mm512_set1_ps((float)(1.0 / 720)));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps((float)(1.0 / 120)));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps((float)(1.0 / 24)));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps((float)(1.0 / 6)));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    __m512 power = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23));
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, _mm512_mul_ps(p, power)));
}

/* the 32 words of the eight Philox blocks of counters (x0, x1, x2, x3) (lane L: block L; words in
   64-bit lanes, vpmuludq), in stream order: block 0's four words first */
static inline void philox_rounds(__m512i x0, __m512i x1, __m512i x2, __m512i x3, uint32_t k0, uint32_t k1,
                                 __m512i *low, __m512i *high) {
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53), m1 = _mm512_set1_epi64(0xCD9E8D57);
    uint32_t key0 = k0, key1 = k1;
    for (int round = 0; round < 10; round++) {
        /* the products read the low 32 bits of each lane; the upper bits of the words carried along
           are dropped at the end */
        __m512i p0 = _mm512_mul_epu32(m0, x0), p1 = _mm512_mul_epu32(m1, x2);
        x0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), x1), _mm512_set1_epi64(key0));
        x2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), x3), _mm512_set1_epi64(key1));
        x1 = p1;
        x3 = p0;
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
    const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i w01 = _mm512_or_si512(_mm512_and_si512(x0, lo32), _mm512_slli_epi64(x1, 32));
    __m512i w23 = _mm512_or_si512(_mm512_and_si512(x2, lo32), _mm512_slli_epi64(x3, 32));
    *low = _mm512_permutex2var_epi64(w01, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), w23);
    *high = _mm512_permutex2var_epi64(w01, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), w23);
}

/* the 32 words of Philox blocks first .. first + 7 (counter (block, c1, c2, c3)) in stream order */
static inline void philox_words(uint64_t first, uint64_t c1, uint64_t c2, uint64_t c3, uint32_t k0, uint32_t k1,
                                __m512i *low, __m512i *high) {
    philox_rounds(_mm512_add_epi64(_mm512_set1_epi64((int64_t)first), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0)),
                  _mm512_set1_epi64((int64_t)c1), _mm512_set1_epi64((int64_t)c2), _mm512_set1_epi64((int64_t)c3), k0,
                  k1, low, high);
}

static inline __m512 uniforms16(__m512i words) {
    __m512i odd = _mm512_or_si512(_mm512_slli_epi32(_mm512_srli_epi32(words, 8), 1), _mm512_set1_epi32(1));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(odd), _mm512_set1_ps(0x1p-25f));
}

/* the 32 words of flat Philox blocks: lane L of (row, block) is block ``block`` of row ``row``'s
   stream (counter (first_block + block, step, ids[row], c3)); rows from ``end`` on give garbage */
static inline void flat_philox_words(__m512i row, __m512i block, int64_t end, const int64_t *ids, uint64_t step,
                                     uint64_t first_block, uint64_t c3, uint32_t k0, uint32_t k1, __m512i *low,
                                     __m512i *high) {
    __mmask8 inside = _mm512_cmplt_epi64_mask(row, _mm512_set1_epi64(end));
    philox_rounds(_mm512_add_epi64(_mm512_set1_epi64((int64_t)first_block), block), _mm512_set1_epi64((int64_t)step),
                  _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), inside, row, (const long long *)ids, 8),
                  _mm512_set1_epi64((int64_t)c3), k0, k1, low, high);
}

/* probs (and states) of 16 values from ``x`` = sums scale + bias; ``m`` the lanes to store */
static inline void layer16(__m512 x, __mmask16 m, float *p, float *h, __m512i words) {
    __m512 q = portable_sigmoid(x);
    _mm512_mask_storeu_ps(p, m, q);
    if (h) {
        __mmask16 below = _mm512_cmp_ps_mask(uniforms16(words), q, _CMP_LT_OQ);
        _mm512_mask_storeu_ps(h, m, _mm512_maskz_mov_ps(below, _mm512_set1_ps(1.0f)));
    }
}

/* rows [r0, r1) of a layer whose width n is a multiple of 4 and at least 32, as one flat array of
   (r1 - r0) n values: every Philox block and every vector lane is used (a row of 100 by itself takes
   4 calls of 8 blocks for its 25 and 7 vectors of 16 for its 100 values); the same words and values */
static void flat_rows(const float *sums, int64_t r0, int64_t r1, int64_t n, float scale, const float *bias,
                      float *probs, const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3,
                      uint32_t k0, uint32_t k1, float *states) {
    int64_t blocks = n / 4, end = r1 * n;
    __m512i row = _mm512_set1_epi64(r0), block = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    int64_t column = 0; /* of the flat position f */
    for (int64_t f = r0 * n; f < end; f += 32) {
        __m512i words[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        if (states) {
            flat_philox_words(row, block, r1, ids, step, first_block, c3, k0, k1, &words[0], &words[1]);
            block = _mm512_add_epi64(block, _mm512_set1_epi64(8));
            __mmask8 wrap = _mm512_cmpge_epi64_mask(block, _mm512_set1_epi64(blocks)); /* blocks >= 8: once */
            block = _mm512_mask_sub_epi64(block, wrap, block, _mm512_set1_epi64(blocks));
            row = _mm512_mask_add_epi64(row, wrap, row, _mm512_set1_epi64(1));
        }
        for (int half = 0; half < 2; half++) {
            int64_t g = f + 16 * half;
            if (g >= end) break;
            __mmask16 m = end - g >= 16 ? 0xFFFF : (__mmask16)((1u << (end - g)) - 1);
            /* bias[(column + lane) mod n]: the lanes past the row's end take the next row's first */
            __mmask16 same = n - column >= 16 ? 0xFFFF : (__mmask16)((1u << (n - column)) - 1);
            __m512 b = _mm512_maskz_loadu_ps(same, bias + column);
            b = _mm512_mask_loadu_ps(b, (__mmask16)~same, bias + column - n);
            __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, sums + g), _mm512_set1_ps(scale)), b);
            layer16(x, m, probs + g, states ? states + g : 0, words[half]);
            column += 16;
            if (column >= n) column -= n;
        }
    }
}

/* rows [r0, r1) of a layer of any width, row by row */
static void rows_one_by_one(const float *sums, int64_t r0, int64_t r1, int64_t n, float scale, const float *bias,
                            float *probs, const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3,
                            uint32_t k0, uint32_t k1, float *states) {
    for (int64_t r = r0; r < r1; r++) {
        const float *s = sums + r * n;
        float *p = probs + r * n, *h = states ? states + r * n : 0;
        for (int64_t j = 0; j < n; j += 32) {
            __m512i words[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
            if (h) philox_words(first_block + (uint64_t)j / 4, step, (uint64_t)ids[r], c3, k0, k1, &words[0], &words[1]);
            for (int half = 0; half < 2; half++) {
                int64_t j0 = j + 16 * half;
                if (j0 >= n) break;
                __mmask16 m = n - j0 >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
                __m512 x = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j0), _mm512_set1_ps(scale)),
                                         _mm512_maskz_loadu_ps(m, bias + j0));
                layer16(x, m, p + j0, h ? h + j0 : 0, words[half]);
            }
        }
    }
}

/* rows [r0, r1): flat where the width allows */
static void layer_rows(const float *sums, int64_t r0, int64_t r1, int64_t n, float scale, const float *bias,
                       float *probs, const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3,
                       uint32_t k0, uint32_t k1, float *states) {
    if (n % 4 == 0 && n >= 32)
        flat_rows(sums, r0, r1, n, scale, bias, probs, ids, step, first_block, c3, k0, k1, states);
    else
        rows_one_by_one(sums, r0, r1, n, scale, bias, probs, ids, step, first_block, c3, k0, k1, states);
}

int hpcrbm_bernoulli_layer(const float *sums, int64_t rows, int64_t n, float scale, const float *bias, float *probs,
                           const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3, uint32_t k0,
                           uint32_t k1, float *states) {
    if (!hpcrbm_own_team(rows * n, PARALLEL_ELEMENTS)) {
        layer_rows(sums, 0, rows, n, scale, bias, probs, ids, step, first_block, c3, k0, k1, states);
        return 0;
    }
#pragma omp parallel
    {
        int part, parts;
        int64_t r0, r1;
        hpcrbm_team_part(&part, &parts);
        hpcrbm_share(rows, parts, part, &r0, &r1);
        layer_rows(sums, r0, r1, n, scale, bias, probs, ids, step, first_block, c3, k0, k1, states);
    }
    return 0;
}
#else
int hpcrbm_bernoulli_layer(const float *sums, int64_t rows, int64_t n, float scale, const float *bias, float *probs,
                           const int64_t *ids, uint64_t step, uint64_t first_block, uint64_t c3, uint32_t k0,
                           uint32_t k1, float *states) {
    return -1; /* never called: the library is used where the CPU has AMX, and so AVX-512 */
}
#endif
