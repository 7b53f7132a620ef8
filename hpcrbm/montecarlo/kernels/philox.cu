// Philox4x32-10 (Salmon et al., SC11): the CUDA twin of hpcrbm/rng/philox.py.
// Self-contained (no headers) so that NVRTC (CuPy) and nvcc both compile it.
__device__ __forceinline__ void philox4x32_10(unsigned int c[4], unsigned int k0, unsigned int k1)
{
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
        const unsigned int n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
}

// Random words of one work item: word k of (step, replica, c3) is element k % 4 of the block
// Philox((k / 4, step, replica, c3)); one thread computes one block.
__device__ __forceinline__ void philox_block(unsigned int out[4], unsigned int block, unsigned int step,
                                             unsigned int replica, unsigned int c3, unsigned int k0, unsigned int k1)
{
    out[0] = block; out[1] = step; out[2] = replica; out[3] = c3;
    philox4x32_10(out, k0, k1);
}

// Test kernel: n blocks of the stream, for comparing with the CPU (tests/montecarlo/test_gpu_kernels.py).
extern "C" __global__ void philox_words(unsigned int* out, int n_blocks, unsigned int step, unsigned int replica,
                                        unsigned int c3, unsigned int k0, unsigned int k1)
{
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n_blocks) return;
    unsigned int w[4];
    philox_block(w, (unsigned int)b, step, replica, c3, k0, k1);
    for (int j = 0; j < 4; ++j) out[4 * b + j] = w[j];
}
