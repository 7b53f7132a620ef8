// Uniform floats in (0, 1) of the Philox streams: the CUDA twin of hpcrbm/rng/uniform.py (uniforms).
// Row i holds, at column u, word first_block * 4 + u of the stream (block, step, ids[i], c3) mapped
// to ((word >> 8) + 0.5) 2^-24, computed in double (exact) and rounded once to the output type.

// One Philox block of a stream whose replica word may exceed 32 bits, as the numba twin computes
// it with 64-bit words: only the first round's high product word sees the upper half
// (M1 replica mod 2^64), the later rounds are the usual ones.
__device__ __forceinline__ void philox_block_wide(unsigned int c[4], unsigned int block, unsigned int step,
                                                  unsigned long long replica, unsigned int c3, const PhiloxKey& key)
{
    const unsigned int low = (unsigned int)replica, high = (unsigned int)(replica >> 32);
    const unsigned int hi0 = __umulhi(0xD2511F53u, block), lo0 = 0xD2511F53u * block;
    const unsigned int hi1 = __umulhi(0xCD9E8D57u, low) + 0xCD9E8D57u * high, lo1 = 0xCD9E8D57u * low;
    c[0] = hi1 ^ step ^ key.k0[0]; c[1] = lo1; c[2] = hi0 ^ c3 ^ key.k1[0]; c[3] = lo0;
    philox4x32_rounds(c, key, 1);
}

// One thread per Philox block (four columns) of one row.
template <class T>
__device__ __forceinline__ void stream_uniforms(T* out, const long long* ids, int rows, int cols, unsigned int step,
                                                unsigned int c3, unsigned int first_block, const PhiloxKey& key)
{
    const int per_row = (cols + 3) / 4;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long)rows * per_row) return;
    const long long i = t / per_row;
    const int b = (int)(t % per_row);
    unsigned int w[4];
    philox_block_wide(w, first_block + (unsigned int)b, step, (unsigned long long)ids[i], c3, key);
    for (int j = 0; j < 4 && 4 * b + j < cols; ++j)
        out[i * cols + 4 * b + j] = (T)(((double)(w[j] >> 8) + 0.5) * 5.9604644775390625e-08);
}

extern "C" __global__ void stream_uniforms_f32(float* out, const long long* ids, int rows, int cols, unsigned int step,
                                               unsigned int c3, unsigned int first_block, PhiloxKey key)
{
    stream_uniforms(out, ids, rows, cols, step, c3, first_block, key);
}

extern "C" __global__ void stream_uniforms_f64(double* out, const long long* ids, int rows, int cols,
                                               unsigned int step, unsigned int c3, unsigned int first_block,
                                               PhiloxKey key)
{
    stream_uniforms(out, ids, rows, cols, step, c3, first_block, key);
}
