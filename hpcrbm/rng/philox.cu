// Philox4x32-10 (Salmon et al., SC11): the CUDA twin of hpcrbm/rng/philox.py.
// Self-contained (no headers) so that NVRTC (CuPy) and nvcc both compile it.

// The key schedule of one run, computed on the host (kernels/gpu.py: philox_key) and passed by
// value as a kernel parameter: the rounds read their keys from the constant bank instead of
// adding the Weyl constants in every call.
struct PhiloxKey {
    unsigned int k0[10], k1[10];  // round r: seed words + r (0x9E3779B9, 0xBB67AE85), mod 2^32
};

// Rounds first .. 9 of Philox4x32-10 on the counter c (all ten: philox4x32_10).
__device__ __forceinline__ void philox4x32_rounds(unsigned int c[4], const PhiloxKey& key, int first)
{
#pragma unroll
    for (int round = first; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
        const unsigned int n0 = hi1 ^ c[1] ^ key.k0[round], n2 = hi0 ^ c[3] ^ key.k1[round];
        c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
    }
}

__device__ __forceinline__ void philox4x32_10(unsigned int c[4], const PhiloxKey& key)
{
    philox4x32_rounds(c, key, 0);
}

// Random words of one work item: word k of (step, replica, c3) is element k % 4 of the block
// Philox((k / 4, step, replica, c3)); one thread computes one block.
__device__ __forceinline__ void philox_block(unsigned int out[4], unsigned int block, unsigned int step,
                                             unsigned int replica, unsigned int c3, const PhiloxKey& key)
{
    out[0] = block; out[1] = step; out[2] = replica; out[3] = c3;
    philox4x32_10(out, key);
}

// Test kernel: n blocks of the stream, for comparing with the CPU (tests/montecarlo/test_gpu_kernels.py).
extern "C" __global__ void philox_words(unsigned int* out, int n_blocks, unsigned int step, unsigned int replica,
                                        unsigned int c3, PhiloxKey key)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n_blocks) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, replica, c3, key);
    for (int j = 0; j < 4; ++j) out[4 * b + j] = w[j];
}
