// Checkerboard Metropolis for Ising spins (signed char, +-1): the CUDA twins of ising_cpu.py.
// Same colour classes, Philox layout and integer thresholds (docs/rng.md): bit-identical results.
// One Philox block (16 bytes) updates 16 consecutive sites k = 16 block .. 16 block + 15 of the
// colour class, site j of the block with byte j (the top byte of its acceptance number); table
// index ((s + 1) / 2) (z + 1) + (neighbour sum + z) / 2.
// The top byte of a threshold t <= 2^32, min(t >> 24, 255): a random top byte below it accepts,
// one equal to it ties (ising_flips(top_byte(t), t, ...) decides exactly).
__device__ __forceinline__ unsigned int top_byte(unsigned long long t) { return t >> 24 > 255 ? 255u : (unsigned int)(t >> 24); }

struct IsingRule {
    static const int SITES = 16;  // sites per Philox block

    template <class I>
    __device__ static const unsigned long long& threshold(const signed char* s, I site, const I nb[4], int dim,
                                                         const unsigned long long* thr)
    {
        const int z = 2 * dim;
        int sum = s[nb[0]] + s[nb[1]];
        if (dim == 2) sum += s[nb[2]] + s[nb[3]];
        return thr[((s[site] + 1) >> 1) * (z + 1) + ((sum + z) >> 1)];
    }

    // Site j of the block, decided by its random top byte; returns whether it tied (left for resolve()).
    template <class I>
    __device__ static bool update(signed char* s, I site, const I nb[4], int dim, int q, const unsigned int w[4], int j,
                                  const unsigned long long* thr)
    {
        const unsigned int top = (w[j >> 2] >> (8 * (j & 3))) & 0xFFu, hi = top_byte(threshold(s, site, nb, dim, thr));
        if (top < hi) s[site] = (signed char)-s[site];
        return top == hi;
    }

    // A tied site (class index k): the exact decision with the tie stream.
    template <class I>
    __device__ static void resolve(signed char* s, I site, const I nb[4], int dim, int, const unsigned int*, int,
                                   const unsigned long long* thr, const Batch& batch, long long k, unsigned int step,
                                   int b)
    {
        const unsigned long long t = threshold(s, site, nb, dim, thr);
        if (batch.ising_flips(top_byte(t), t, k, step, b)) s[site] = (signed char)-s[site];
    }
};

// Byte-wise acceptance, four sites (or four lattices) per 32-bit operation: the compact and lanes
// kernels. A site flips when its random top byte is below min(t >> 24, 255) and draws the tie
// stream when equal (ising_flips with top_byte(t) decides it exactly).

// Threshold top bytes by the number n = 0..z of down neighbours: byte n of (lo, hi) is
// top_byte of table index z - n for s = -1 (minus) and 2 z + 1 - n for s = +1 (plus).
struct TopBytes {
    unsigned int minus_lo, minus_hi, plus_lo, plus_hi;
};

__device__ __forceinline__ TopBytes top_bytes(const unsigned long long* t, int z)
{
    unsigned long long minus = 0, plus = 0;
    for (int n = 0; n <= z; ++n) {
        minus |= (unsigned long long)top_byte(t[z - n]) << (8 * n);
        plus |= (unsigned long long)top_byte(t[2 * z + 1 - n]) << (8 * n);
    }
    return TopBytes{(unsigned int)minus, (unsigned int)(minus >> 32), (unsigned int)plus, (unsigned int)(plus >> 32)};
}

// __byte_perm for selectors whose nibbles are below 8 (so without its masking to three bits).
__device__ __forceinline__ unsigned int prmt(unsigned int a, unsigned int b, unsigned int selector)
{
#ifdef __CUDA_ARCH__
    unsigned int r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(selector));
    return r;
#else
    return __byte_perm(a, b, selector);
#endif
}

// Per byte: the threshold top byte of a spin with n down neighbours (bytes of `n`, at most 4),
// where `minus` has 0xFF in the bytes whose spin is -1 and 0 elsewhere.
__device__ __forceinline__ unsigned int top_thresholds(unsigned int minus, unsigned int n, const TopBytes& tb)
{
    const unsigned int sel = __byte_perm(n | (n >> 4), 0, 0x4420);  // nibble j: n of byte j
    return (prmt(tb.minus_lo, tb.minus_hi, sel) & minus) | (prmt(tb.plus_lo, tb.plus_hi, sel) & ~minus);
}

// 0x80 in the bytes where a < b (unsigned), with no borrow between bytes.
__device__ __forceinline__ unsigned int bytes_below(unsigned int a, unsigned int b)
{
    const unsigned int d = (a | 0x80808080u) - (b & 0x7F7F7F7Fu);  // bit 7 of a byte: a's low 7 bits >= b's
    return ((~a & b) | (~(a ^ b) & ~d)) & 0x80808080u;
}

// 0x80 in the bytes where a == b.
__device__ __forceinline__ unsigned int bytes_equal(unsigned int a, unsigned int b)
{
    const unsigned int x = a ^ b;
    return ~(((x & 0x7F7F7F7Fu) + 0x7F7F7F7Fu) | x) & 0x80808080u;
}
