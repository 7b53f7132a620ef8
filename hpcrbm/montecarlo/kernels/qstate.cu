// Checkerboard Metropolis for q-state models (Potts, clock; states 0..q-1): the CUDA twins of
// qstate_cpu.py, same random-number layout (docs/rng.md). Class site k reads half-word k of the
// Metropolis stream (bits 16 (k % 2) of word k / 2), so one Philox block updates the 8 sites
// 8 block .. 8 block + 7: low byte p (proposal), high byte a (top byte of the acceptance number).
// With m = q - 1 and c = 256 / m, delta = 1 + p / c when p < m c; bytes in the tail p >= m c
// leave the site to resolve(), which takes delta = 1 + ((w * m) >> 32) from word 2k + 1 of the
// tie stream. The site moves to (s + delta) % q iff a 2^24 + (word 2k of the tie stream >> 8) <
// table[index]; the tie word is drawn only when a equals the threshold's top byte t >> 24.
// Table index: (s (q - 1) + delta - 1) q^z + sum_j d_j q^(z - 1 - j), d_j = (s - n_j) mod q,
// neighbours in the order up, down, left, right (2D) or left, right (1D).
struct QStateRule {
    static const int SITES = 8;  // sites per Philox block (two bytes a site)

    template <class I>
    __device__ static const unsigned long long& threshold(const signed char* s, I site, const I nb[4], int dim, int q,
                                                         int delta, const unsigned long long* table)
    {
        const int z = 2 * dim;
        const int si = s[site];
        long long index = 0, qz = 1;
#pragma unroll
        for (int n = 0; n < 4; ++n) {
            if (n >= z) break;
            int d = si - s[nb[n]];
            d += q * (d < 0);
            index = index * q + d;
            qz *= q;
        }
        return table[index + (long long)(si * (q - 1) + delta - 1) * qz];
    }

    __device__ static void move(signed char* s, long long site, int q, int delta)
    {
        const int next = s[site] + delta;
        s[site] = (signed char)(next - q * (next >= q));
    }

    // Half-word j (0..7) of the block (selects, not an indexed load: no local memory when j is
    // not a compile-time constant, as in resolve()).
    __device__ static unsigned int half_word(const unsigned int w[4], int j)
    {
        const int i = j >> 1;
        const unsigned int word = i == 0 ? w[0] : i == 1 ? w[1] : i == 2 ? w[2] : w[3];
        return (word >> (16 * (j & 1))) & 0xFFFFu;
    }

    // Site j of the block, decided by its two bytes; returns whether it is left to resolve() (a
    // proposal byte in the tail, or an acceptance byte equal to the threshold's top byte).
    template <class I>
    __device__ static bool update(signed char* s, I site, const I nb[4], int dim, int q, const unsigned int w[4], int j,
                                  const unsigned long long* table)
    {
        const unsigned int hw = half_word(w, j), p = hw & 0xFFu, a = hw >> 8;
        const unsigned int c = 256u / (unsigned int)(q - 1), mul = (65536u + c - 1) / c;  // per block, not per site
        if (p >= (unsigned int)(q - 1) * c) return true;
        const int delta = 1 + (int)((p * mul) >> 16);  // 1 + p / c exactly (qstate_cpu.proposal_constants)
        const unsigned int hi = (unsigned int)(threshold(s, site, nb, dim, q, delta, table) >> 24);  // 256 for 2^32
        if (a < hi) move(s, site, q, delta);
        return a == hi;
    }

    // A site left by update() (class index k): its proposal (from the tail word if its byte is in
    // the tail) and the exact 32-bit acceptance with the tie word; both words are in Philox block
    // k / 2 of the tie stream.
    template <class I>
    __device__ static void resolve(signed char* s, I site, const I nb[4], int dim, int q, const unsigned int w[4], int j,
                                   const unsigned long long* table, const Batch& batch, long long k, unsigned int step,
                                   int b)
    {
        const unsigned int hw = half_word(w, j), p = hw & 0xFFu, a = hw >> 8;
        const unsigned int c = 256u / (unsigned int)(q - 1);
        unsigned int tie[4];
        batch.tie_words(tie, k >> 1, step, b);
        const int odd = (int)(k & 1);
        const unsigned int tie_word = odd ? tie[2] : tie[0], tail_word = odd ? tie[3] : tie[1];
        const int delta = 1 + (p < (unsigned int)(q - 1) * c ? (int)(p / c) : (int)__umulhi(tail_word, (unsigned int)(q - 1)));
        const unsigned long long u = (unsigned long long)a << 24 | tie_word >> 8;
        if (u < threshold(s, site, nb, dim, q, delta, table)) move(s, site, q, delta);
    }
};
