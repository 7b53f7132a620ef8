// Checkerboard Metropolis for Ising spins (signed char, +-1): the CUDA twins of ising_cpu.py.
// Same colour classes, Philox layout and integer thresholds (docs/rng.md): bit-identical results.
// One thread = one Philox block = four consecutive sites k of the colour class being updated.
// Threads t = replica * blocks_per_replica + block over all replicas of a point (many small
// lattices fill the GPU as well as one large one); one launch per colour (half-sweep).

extern "C" __global__ void ising2d_half_sweep(signed char* spins, const unsigned long long* thr, int L, int n_rep,
                                              unsigned int k0, unsigned int k1, unsigned int c3, unsigned int step,
                                              int colour)
{
    const int half = L / 2;
    const long long n_words = (long long)L * half;
    int r;
    long long b;
    if (!replica_block((n_words + 3) / 4, n_rep, &r, &b)) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, (unsigned int)r, c3, k0, k1);
    signed char* s = spins + (long long)r * L * L;
    for (int j = 0; j < 4; ++j) {
        const long long k = 4 * b + j;
        if (k >= n_words) break;
        const int y = (int)(k / half), i = (int)(k % half);
        const int x = ((y + colour) & 1) + 2 * i;
        const int up = (y + L - 1) % L, down = (y + 1) % L, left = (x + L - 1) % L, right = (x + 1) % L;
        const int si = s[(long long)y * L + x];
        const int nb = s[(long long)up * L + x] + s[(long long)down * L + x] + s[(long long)y * L + left]
                     + s[(long long)y * L + right];
        if ((unsigned long long)w[j] < thr[((si + 1) >> 1) * 5 + ((nb + 4) >> 1)]) s[(long long)y * L + x] = -si;
    }
}

// Ring of n sites; colour 0: even sites below n - n % 2, colour 1: odd sites, colour 2 (odd n): site n - 1.
extern "C" __global__ void ising1d_half_sweep(signed char* spins, const unsigned long long* thr, int n, int n_rep,
                                              unsigned int k0, unsigned int k1, unsigned int c3, unsigned int step,
                                              int colour)
{
    int start, count, r;
    long long b;
    ring_colour_class(n, colour, &start, &count);
    if (!replica_block((count + 3) / 4, n_rep, &r, &b)) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, (unsigned int)r, c3, k0, k1);
    signed char* s = spins + (long long)r * n;
    for (int j = 0; j < 4; ++j) {
        const int k = 4 * b + j;
        if (k >= count) break;
        const int i = start + 2 * k;
        const int si = s[i];
        const int nb = s[(i + n - 1) % n] + s[(i + 1) % n];
        if ((unsigned long long)w[j] < thr[((si + 1) >> 1) * 3 + ((nb + 2) >> 1)]) s[i] = -si;
    }
}
