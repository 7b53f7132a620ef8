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

// Site k of colour class `colour` (row-major numbering): its flat index and its neighbours
// (2D: up, down, left, right; 1D: left, right), the order the q-state tables use. I: int where
// the lattice fits in shared memory (32-bit division), long long in global memory.
template <class I>
__device__ __forceinline__ void class_site(int dim, int L, int colour, I k, I* site, I nb[4])
{
    if (dim == 2) {
        const int half = L / 2;
        const int y = (int)(k / half), x = ((y + colour) & 1) + 2 * (int)(k - (I)y * half);
        const I row = (I)y * L;
        *site = row + x;
        nb[0] = (I)(y == 0 ? L - 1 : y - 1) * L + x;
        nb[1] = (I)(y == L - 1 ? 0 : y + 1) * L + x;
        nb[2] = row + (x == 0 ? L - 1 : x - 1);
        nb[3] = row + (x == L - 1 ? 0 : x + 1);
    } else {
        int start, count;
        ring_colour_class(L, colour, &start, &count);
        const int i = start + 2 * (int)k;
        *site = i;
        nb[0] = i == 0 ? L - 1 : i - 1;
        nb[1] = i == L - 1 ? 0 : i + 1;
    }
}

// A batch is n_lattices = n_points * replicas lattices, point-major: lattice b is replica
// b % replicas of local point b / replicas, whose global grid index is points[b / replicas] and
// whose threshold table is tables[(b / replicas) * table_size ...].
struct Batch {
    const unsigned long long* tables;
    const int* points;
    int table_size, replicas, n_lattices;
    unsigned int k0, k1, purpose;  // Philox key (the run seed) and the purpose byte of counter word 3

    __device__ __forceinline__ const unsigned long long* table(int b) const
    {
        return tables + (long long)(b / replicas) * table_size;
    }
    __device__ __forceinline__ void words(unsigned int w[4], long long block, unsigned int step, int b) const
    {
        philox_block(w, (unsigned int)block, step, (unsigned int)(b % replicas),
                     (unsigned int)points[b / replicas] * 256u + purpose, k0, k1);
    }
};
