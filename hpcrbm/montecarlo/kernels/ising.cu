// Checkerboard Metropolis for Ising spins (signed char, +-1): the CUDA twins of ising_cpu.py.
// Same colour classes, Philox layout and integer thresholds (docs/rng.md): bit-identical results.
// One Philox block (16 bytes) updates 16 consecutive sites k = 16 block .. 16 block + 15 of the
// colour class, site j of the block with byte j (the top byte of its acceptance number); table
// index ((s + 1) / 2) (z + 1) + (neighbour sum + z) / 2.
struct IsingRule {
    static const int SITES = 16;  // sites per Philox block

    template <class I>
    __device__ static void update(signed char* s, I site, const I nb[4], int dim, int q, const unsigned int w[4], int j,
                                  const unsigned long long* thr, const Batch& batch, long long k, unsigned int step,
                                  int b)
    {
        const int z = 2 * dim;
        const int si = s[site];
        int sum = s[nb[0]] + s[nb[1]];
        if (dim == 2) sum += s[nb[2]] + s[nb[3]];
        const unsigned int top = (w[j >> 2] >> (8 * (j & 3))) & 0xFFu;
        if (batch.ising_flips(top, thr[((si + 1) >> 1) * (z + 1) + ((sum + z) >> 1)], k, step, b))
            s[site] = (signed char)-si;
    }
};
