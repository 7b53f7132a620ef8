// Checkerboard Metropolis for q-state models (Potts, clock; states 0..q-1): the CUDA twins of
// qstate_cpu.py. Site k of a colour class draws words 2k (proposal) and 2k + 1 (acceptance), so
// one thread (one Philox block) updates the two sites 2b and 2b + 1. Table index:
// (s (q - 1) + delta - 1) q^z + sum_j d_j q^(z - 1 - j), d_j = (s - n_j) mod q, neighbours in the
// order up, down, left, right (2D) or left, right (1D).

__device__ __forceinline__ int qstate_new_state(int si, const int* nbs, int z, unsigned int w_propose,
                                                unsigned int w_accept, const unsigned long long* table, int q)
{
    long long index = 0, qz = 1;
    for (int j = 0; j < z; ++j) {
        int d = si - nbs[j];
        d += q * (d < 0);
        index = index * q + d;
        qz *= q;
    }
    const int delta = 1 + (int)__umulhi(w_propose, (unsigned int)(q - 1));
    index += (long long)(si * (q - 1) + delta - 1) * qz;
    int next = si + ((unsigned long long)w_accept < table[index]) * delta;
    return next - q * (next >= q);
}

extern "C" __global__ void qstate2d_half_sweep(signed char* spins, const unsigned long long* table, int q, int L,
                                               int n_rep, unsigned int k0, unsigned int k1, unsigned int c3,
                                               unsigned int step, int colour)
{
    const int half = L / 2;
    const long long n_sites = (long long)L * half;
    int r;
    long long b;
    if (!replica_block((n_sites + 1) / 2, n_rep, &r, &b)) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, (unsigned int)r, c3, k0, k1);
    signed char* s = spins + (long long)r * L * L;
    for (int j = 0; j < 2; ++j) {
        const long long k = 2 * b + j;
        if (k >= n_sites) break;
        const int y = (int)(k / half), i = (int)(k % half);
        const int x = ((y + colour) & 1) + 2 * i;
        const int nbs[4] = {s[(long long)((y + L - 1) % L) * L + x], s[(long long)((y + 1) % L) * L + x],
                            s[(long long)y * L + (x + L - 1) % L], s[(long long)y * L + (x + 1) % L]};
        const long long site = (long long)y * L + x;
        s[site] = (signed char)qstate_new_state(s[site], nbs, 4, w[2 * j], w[2 * j + 1], table, q);
    }
}

extern "C" __global__ void qstate1d_half_sweep(signed char* spins, const unsigned long long* table, int q, int n,
                                               int n_rep, unsigned int k0, unsigned int k1, unsigned int c3,
                                               unsigned int step, int colour)
{
    int start, count, r;
    long long b;
    ring_colour_class(n, colour, &start, &count);
    if (!replica_block((count + 1) / 2, n_rep, &r, &b)) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, (unsigned int)r, c3, k0, k1);
    signed char* s = spins + (long long)r * n;
    for (int j = 0; j < 2; ++j) {
        const int k = 2 * b + j;
        if (k >= count) break;
        const int i = start + 2 * k;
        const int nbs[2] = {s[(i + n - 1) % n], s[(i + 1) % n]};
        s[i] = (signed char)qstate_new_state(s[i], nbs, 2, w[2 * j], w[2 * j + 1], table, q);
    }
}
