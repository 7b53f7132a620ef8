// Work layout shared by the Metropolis kernels (the CUDA twin of ring_colour_class in ising_cpu.py).

// Colour class `colour` of a ring of n sites: sites start, start + 2, ... (count of them).
// Colour 0: even sites below n - n % 2; colour 1: odd sites; colour 2 (odd n only): site n - 1.
__device__ __forceinline__ void ring_colour_class(int n, int colour, int* start, int* count)
{
    *start = colour == 2 ? n - 1 : colour;
    const int stop = colour == 2 ? n : n - (n & 1) * (1 - colour);
    *count = (stop - *start + 1) / 2;
}

// This thread's (replica, Philox block) when threads run over per_replica blocks of every
// replica (t = replica * per_replica + block); false for the threads past the end.
__device__ __forceinline__ bool replica_block(long long per_replica, int n_rep, int* r, long long* b)
{
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= per_replica * n_rep) return false;
    *r = (int)(t / per_replica);
    *b = t % per_replica;
    return true;
}
