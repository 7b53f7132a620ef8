// Checkerboard Metropolis for q-state models (Potts, clock; states 0..q-1): the CUDA twins of
// qstate_cpu.py. Site k of a colour class draws words 2k (proposal) and 2k + 1 (acceptance), so
// one Philox block updates the two sites 2 block and 2 block + 1. Table index:
// (s (q - 1) + delta - 1) q^z + sum_j d_j q^(z - 1 - j), d_j = (s - n_j) mod q, neighbours in the
// order up, down, left, right (2D) or left, right (1D).
struct QStateRule {
    static const int SITES = 2;  // sites per Philox block

    template <class I>
    __device__ static bool update(signed char* s, I site, const I nb[4], int dim, int q, const unsigned int w[4], int j,
                                  const unsigned long long* table)
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
        const int delta = 1 + (int)__umulhi(w[2 * j], (unsigned int)(q - 1));
        index += (long long)(si * (q - 1) + delta - 1) * qz;
        const int next = si + ((unsigned long long)w[2 * j + 1] < table[index]) * delta;
        s[site] = (signed char)(next - q * (next >= q));
        return false;  // never a tie: full 32-bit acceptance words
    }

    template <class I>
    __device__ static void resolve(signed char*, I, const I*, int, const unsigned long long*, const Batch&, long long,
                                   unsigned int, int)
    {
    }
};
