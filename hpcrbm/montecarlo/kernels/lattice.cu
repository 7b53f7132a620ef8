// Colour classes, site numbering and batches shared by the Metropolis kernels: the CUDA twins of
// ring_colour_class and the row-major class numbering in ising_cpu.py (docs/rng.md).
// Lattices: 2D L x L (L even) or a ring of L sites (dim 1); flat site indices are 64-bit
// (an L = 65536 lattice has 2^32 sites).

// Colour class `colour` of a ring of n sites: sites start, start + 2, ... (count of them).
// Colour 0: even sites below n - n % 2; colour 1: odd sites; colour 2 (odd n only): site n - 1.
__device__ __forceinline__ void ring_colour_class(int n, int colour, int* start, int* count)
{
    *start = colour == 2 ? n - 1 : colour;
    const int stop = colour == 2 ? n : n - (n & 1) * (1 - colour);
    *count = (stop - *start + 1) / 2;
}

__device__ __forceinline__ int n_colours(int dim, int L) { return dim == 2 ? 2 : 2 + (L & 1); }

__device__ __forceinline__ long long class_size(int dim, int L, int colour)
{
    if (dim == 2) return (long long)L * (L / 2);
    int start, count;
    ring_colour_class(L, colour, &start, &count);
    return count;
}

// Sites k, k + 1, ... of colour class `colour` (row-major numbering) in order: each one's flat
// index and neighbours (2D: up, down, left, right; 1D: left, right), the order the q-state tables
// use; one division to start, none per site. I: int where the lattice fits in shared memory,
// long long in global memory.
template <class I>
struct ClassCursor {
    int dim, L, colour;
    I y, i;  // 2D: row and index in the row; 1D: class index

    __device__ __forceinline__ ClassCursor(int dim_, int L_, int colour_, I k) : dim(dim_), L(L_), colour(colour_)
    {
        y = dim == 2 ? k / (L / 2) : 0;
        i = dim == 2 ? k - y * (L / 2) : k;
    }
    __device__ __forceinline__ void site(I* site, I nb[4]) const
    {
        if (dim == 2) {
            const int x = (((int)y + colour) & 1) + 2 * (int)i;
            const I row = y * L;
            *site = row + x;
            nb[0] = (y == 0 ? L - 1 : y - 1) * L + x;
            nb[1] = (y == L - 1 ? 0 : y + 1) * L + x;
            nb[2] = row + (x == 0 ? L - 1 : x - 1);
            nb[3] = row + (x == L - 1 ? 0 : x + 1);
        } else {
            int start, count;
            ring_colour_class(L, colour, &start, &count);
            const I j = start + 2 * i;
            *site = j;
            nb[0] = j == 0 ? L - 1 : j - 1;
            nb[1] = j == L - 1 ? 0 : j + 1;
        }
    }
    __device__ __forceinline__ void next()
    {
        if (++i == L / 2 && dim == 2) {
            i = 0;
            ++y;
        }
    }
};

// Ising acceptance (docs/rng.md): class site k flips iff u < t (t <= 2^32), where u's top byte
// `top` comes from the Metropolis stream and its low 24 bits, needed only when top equals t's top
// byte, are the top 24 bits of word k of the tie stream (counter word 3 `c3_tie`).
__device__ __forceinline__ bool ising_flips(unsigned int top, unsigned long long t, long long k, unsigned int step,
                                            unsigned int replica, unsigned int c3_tie, const PhiloxKey& key)
{
    const unsigned int hi = (unsigned int)(t >> 24);
    if (top != hi) return top < hi;
    unsigned int w[4];
    philox_block(w, (unsigned int)(k >> 2), step, replica, c3_tie, key);
    const int j = (int)(k & 3);
    const unsigned int word = j == 0 ? w[0] : j == 1 ? w[1] : j == 2 ? w[2] : w[3];
    return (word >> 8) < (unsigned int)(t & 0xFFFFFFu);
}

// A batch is n_lattices = n_points * replicas lattices, point-major: lattice b is replica
// b % replicas of local point b / replicas, whose global grid index is points[b / replicas] and
// whose threshold table is tables[(b / replicas) * table_size ...].
struct Batch {
    const unsigned long long* tables;
    const int* points;
    int table_size, replicas, n_lattices;
    PhiloxKey key;  // the run seed's key schedule
    unsigned int purpose, tie;  // purpose bytes of counter word 3: update and tie streams

    __device__ __forceinline__ const unsigned long long* table(int b) const
    {
        return tables + (long long)(b / replicas) * table_size;
    }
    __device__ __forceinline__ void words(unsigned int w[4], long long block, unsigned int step, int b) const
    {
        philox_block(w, (unsigned int)block, step, (unsigned int)(b % replicas),
                     (unsigned int)points[b / replicas] * 256u + purpose, key);
    }
    // Block `block` of the tie stream (q-state models: words 2k, 2k + 1 of class site k).
    __device__ __forceinline__ void tie_words(unsigned int w[4], long long block, unsigned int step, int b) const
    {
        philox_block(w, (unsigned int)block, step, (unsigned int)(b % replicas),
                     (unsigned int)points[b / replicas] * 256u + tie, key);
    }
    __device__ __forceinline__ bool ising_flips(unsigned int top, unsigned long long t, long long k,
                                                unsigned int step, int b) const
    {
        return ::ising_flips(top, t, k, step, (unsigned int)(b % replicas),
                             (unsigned int)points[b / replicas] * 256u + tie, key);
    }
};
