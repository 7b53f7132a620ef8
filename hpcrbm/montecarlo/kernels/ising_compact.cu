// 2D Ising on colour-compacted planes, for large lattices (L % 32 == 0): the fast path.
//
// Layout: planes[b][colour][y][i] = s[b][y][((y + colour) & 1) + 2 i], i < L / 2 (one byte per
// spin, int8 (n_lattices, 2, L, L / 2)). Index i of a row is the class numbering k = y L/2 + i of
// docs/rng.md, so results equal the natural-layout kernels bit for bit. Site (y, i) of colour c
// has its up/down neighbours at (y -+ 1, i) of the other plane and its left/right neighbours at
// (y, i - 1), (y, i) when (y + c) is even, (y, i), (y, i + 1) when odd.
//
// One thread updates a segment of 16 consecutive sites in COMPACT_ROWS consecutive rows: per row
// 16-byte loads of its own segment and of the other plane's next row (the rows above and beside
// stay in registers), one byte for the segment's edge, four Philox blocks and one 16-byte store.
// Table indices are computed four bytes at a time (bytes_index). Grid: x over segments and row
// chunks of one lattice, y over lattices (strided when there are more than gridDim.y).
// Compile-time knobs; kernels/gpu.py passes its TUNED values (these defaults are for nvcc alone).
#ifndef COMPACT_ROWS
#define COMPACT_ROWS 16  // rows per thread (a divisor of 32)
#endif
#ifndef COMPACT_MIN_BLOCKS
#define COMPACT_MIN_BLOCKS 4  // resident 256-thread blocks per multiprocessor asked of the register allocator
#endif

// Per byte of four +-1 spins (me) and the sum of their neighbours' bit 1 (down2 = 2 x number of
// down neighbours): 8 x table index, 8 ((z + 1) (s + 1) / 2 + (neighbour sum + z) / 2).
__device__ __forceinline__ unsigned int bytes_index(unsigned int me, unsigned int down2, int z)
{
    const unsigned int me2 = me & 0x02020202u;  // 2 where s = -1
    return 0x01010101u * (8u * (2 * z + 1)) - 4u * ((unsigned int)(z + 1) * me2 + down2);
}

// me with the bytes flipped whose word w[j] is below the threshold at byte offset index8 >> 8j.
__device__ __forceinline__ unsigned int flip_bytes(unsigned int me, unsigned int index8, const unsigned int w[4],
                                                   const unsigned char* table)
{
    unsigned int flips = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const unsigned int offset = __byte_perm(index8, 0, 0x4440 + j);
        if ((unsigned long long)w[j] < *(const unsigned long long*)(table + offset)) flips |= 0xFEu << (8 * j);
    }
    return me ^ flips;  // +1 (0x01) <-> -1 (0xFF) in the flipped bytes
}

__device__ __forceinline__ unsigned int down2(unsigned int a, unsigned int b, unsigned int c, unsigned int d)
{
    const unsigned int m = 0x02020202u;
    return (a & m) + (b & m) + (c & m) + (d & m);
}

extern "C" __global__ void __launch_bounds__(256, COMPACT_MIN_BLOCKS) ising2d_compact_half_sweep(
    signed char* planes, HPCRBM_BATCH_ARGS, int L, unsigned int step, int colour)
{
    __shared__ unsigned long long table[10];
    const int half = L >> 1, groups = half >> 4, chunks = L / COMPACT_ROWS;
    const int u = blockIdx.x * blockDim.x + threadIdx.x;
    const int g = u % groups, y0 = (u / groups) * COMPACT_ROWS, i0 = 16 * g;
    const unsigned int plane = (unsigned int)L * half;  // < 2^32 for L <= 65536
    for (int b = blockIdx.y; b < n_lattices; b += gridDim.y) {
        __syncthreads();
        if (threadIdx.x < 10) table[threadIdx.x] = tables[(long long)(b / replicas) * table_size + threadIdx.x];
        __syncthreads();
        if (u >= groups * chunks) continue;
        const unsigned int replica = b % replicas, c3 = (unsigned int)points[b / replicas] * 256u + purpose;
        unsigned char* own = (unsigned char*)planes + (2ULL * b + colour) * plane;
        const unsigned char* other = (const unsigned char*)planes + (2ULL * b + 1 - colour) * plane;
        uint4 above = __ldg((const uint4*)(other + (unsigned int)(y0 == 0 ? L - 1 : y0 - 1) * half + i0));
        uint4 mid = __ldg((const uint4*)(other + (unsigned int)y0 * half + i0));
        uint4 below = __ldg((const uint4*)(other + (unsigned int)(y0 == L - 1 ? 0 : y0 + 1) * half + i0));
        uint4 me = *(const uint4*)(own + (unsigned int)y0 * half + i0);
#pragma unroll 1
        for (int y = y0; y < y0 + COMPACT_ROWS; ++y) {
            const unsigned int row = (unsigned int)y * half;
            uint4 side;  // the neighbour on the side that `mid` does not cover, byte by byte
            if (((y + colour) & 1) == 0) {  // x = 2i: neighbours i - 1 (side) and i (mid)
                const unsigned int edge = other[row + (g == 0 ? half - 1 : i0 - 1)];
                side.x = __funnelshift_l(edge << 24, mid.x, 8);
                side.y = __funnelshift_l(mid.x, mid.y, 8);
                side.z = __funnelshift_l(mid.y, mid.z, 8);
                side.w = __funnelshift_l(mid.z, mid.w, 8);
            } else {  // x = 2i + 1: neighbours i (mid) and i + 1 (side)
                const unsigned int edge = other[row + (g == groups - 1 ? 0 : i0 + 16)];
                side.x = __funnelshift_r(mid.x, mid.y, 8);
                side.y = __funnelshift_r(mid.y, mid.z, 8);
                side.z = __funnelshift_r(mid.z, mid.w, 8);
                side.w = __funnelshift_r(mid.w, edge, 8);
            }
            const unsigned char* t = (const unsigned char*)table;
            const unsigned int block = (row + i0) >> 2;
            unsigned int w[4];
            uint4 out;
            philox_block(w, block, step, replica, c3, k0, k1);
            out.x = flip_bytes(me.x, bytes_index(me.x, down2(mid.x, side.x, above.x, below.x), 4), w, t);
            philox_block(w, block + 1, step, replica, c3, k0, k1);
            out.y = flip_bytes(me.y, bytes_index(me.y, down2(mid.y, side.y, above.y, below.y), 4), w, t);
            philox_block(w, block + 2, step, replica, c3, k0, k1);
            out.z = flip_bytes(me.z, bytes_index(me.z, down2(mid.z, side.z, above.z, below.z), 4), w, t);
            philox_block(w, block + 3, step, replica, c3, k0, k1);
            out.w = flip_bytes(me.w, bytes_index(me.w, down2(mid.w, side.w, above.w, below.w), 4), w, t);
            *(uint4*)(own + row + i0) = out;
            above = mid;
            mid = below;
            if (y + 1 < y0 + COMPACT_ROWS) {  // the next row's segments
                below = __ldg((const uint4*)(other + (unsigned int)(y + 2 >= L ? y + 2 - L : y + 2) * half + i0));
                me = *(const uint4*)(own + row + half + i0);
            }
        }
    }
}

// Natural layout <-> colour planes, 32 bytes of a row per thread (L % 32 == 0). Row y's even-x
// bytes belong to plane y & 1, its odd-x bytes to plane 1 - (y & 1).
extern "C" __global__ void ising2d_planes(signed char* spins, signed char* planes, int L, int n_lattices, int to_planes)
{
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int per_row = L >> 5;
    if (t >= (long long)n_lattices * L * per_row) return;
    const long long row = t / per_row;  // b * L + y
    const int y = (int)(row % L), j = (int)(t % per_row);
    const long long b = row / L, half = L >> 1;
    uint4* natural = (uint4*)(spins + row * L + 32 * j);
    uint4* even = (uint4*)(planes + ((2 * b + (y & 1)) * L + y) * half + 16 * j);
    uint4* odd = (uint4*)(planes + ((2 * b + 1 - (y & 1)) * L + y) * half + 16 * j);
    if (to_planes) {
        const uint4 a = natural[0], c = natural[1];
        *even = make_uint4(__byte_perm(a.x, a.y, 0x6420), __byte_perm(a.z, a.w, 0x6420),
                           __byte_perm(c.x, c.y, 0x6420), __byte_perm(c.z, c.w, 0x6420));
        *odd = make_uint4(__byte_perm(a.x, a.y, 0x7531), __byte_perm(a.z, a.w, 0x7531),
                          __byte_perm(c.x, c.y, 0x7531), __byte_perm(c.z, c.w, 0x7531));
    } else {
        const uint4 e = *even, o = *odd;
        natural[0] = make_uint4(__byte_perm(e.x, o.x, 0x5140), __byte_perm(e.x, o.x, 0x7362),
                                __byte_perm(e.y, o.y, 0x5140), __byte_perm(e.y, o.y, 0x7362));
        natural[1] = make_uint4(__byte_perm(e.z, o.z, 0x5140), __byte_perm(e.z, o.z, 0x7362),
                                __byte_perm(e.w, o.w, 0x5140), __byte_perm(e.w, o.w, 0x7362));
    }
}
