// 2D Ising on colour-compacted planes, for large lattices (L % 32 == 0): the fast path.
//
// Layout: planes[b][colour][y][i] = s[b][y][((y + colour) & 1) + 2 i], i < L / 2 (one byte per
// spin, int8 (n_lattices, 2, L, L / 2)). Index i of a row is the class numbering k = y L/2 + i of
// docs/rng.md, so results equal the natural-layout kernels bit for bit. Site (y, i) of colour c
// has its up/down neighbours at (y -+ 1, i) of the other plane and its left/right neighbours at
// (y, i - 1), (y, i) when (y + c) is even, (y, i), (y, i + 1) when odd.
//
// One thread updates 16 consecutive sites of one row: 16-byte loads of its own segment and of the
// other plane's segments above, beside and below it, one extra byte for the segment's edge,
// four Philox blocks, and one 16-byte store. Neighbour counts are summed four bytes at a time.

__device__ __forceinline__ unsigned int up_bits(unsigned int w)  // byte +1 (0x01) -> 1, -1 (0xFF) -> 0
{
    return (~w >> 1) & 0x01010101u;
}

__device__ __forceinline__ unsigned int flip_word(unsigned int me, unsigned int index, const unsigned int w[4],
                                                  const unsigned long long* thr)
{
    unsigned int flips = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const unsigned int i = (index >> (8 * j)) & 0xFFu;
        flips |= (unsigned int)((unsigned long long)w[j] < __ldg(thr + i)) << (8 * j);
    }
    return me ^ (flips * 0xFEu);  // +1 <-> -1 in the flipped bytes
}

extern "C" __global__ void __launch_bounds__(256) ising2d_compact_half_sweep(
    signed char* planes, HPCRBM_BATCH_ARGS, int L, unsigned int step, int colour)
{
    const Batch batch = HPCRBM_BATCH;
    const int half = L >> 1, groups = half >> 4;
    const long long per_lattice = (long long)L * groups;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= per_lattice * n_lattices) return;
    const int b = (int)(t / per_lattice);
    const long long rest = t % per_lattice;
    const int y = (int)(rest / groups), g = (int)(rest % groups);
    const long long plane = (long long)L * half;
    unsigned char* own = (unsigned char*)planes + (2LL * b + colour) * plane;
    const unsigned char* other = (const unsigned char*)planes + (2LL * b + 1 - colour) * plane;
    const long long row = (long long)y * half, up = (long long)(y == 0 ? L - 1 : y - 1) * half,
                    down = (long long)(y == L - 1 ? 0 : y + 1) * half;
    const int i0 = 16 * g;
    const uint4 me = *(const uint4*)(own + row + i0);
    const uint4 mid = __ldg((const uint4*)(other + row + i0));
    const uint4 above = __ldg((const uint4*)(other + up + i0));
    const uint4 below = __ldg((const uint4*)(other + down + i0));
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
    // table index per byte: 5 * (s up) + number of up neighbours
    const unsigned int ix = up_bits(me.x) * 5u + up_bits(mid.x) + up_bits(side.x) + up_bits(above.x) + up_bits(below.x);
    const unsigned int iy = up_bits(me.y) * 5u + up_bits(mid.y) + up_bits(side.y) + up_bits(above.y) + up_bits(below.y);
    const unsigned int iz = up_bits(me.z) * 5u + up_bits(mid.z) + up_bits(side.z) + up_bits(above.z) + up_bits(below.z);
    const unsigned int iw = up_bits(me.w) * 5u + up_bits(mid.w) + up_bits(side.w) + up_bits(above.w) + up_bits(below.w);
    const unsigned long long* thr = batch.table(b);
    const long long block = (row + i0) >> 2;
    unsigned int w[4];
    uint4 out;
    batch.words(w, block, step, b);
    out.x = flip_word(me.x, ix, w, thr);
    batch.words(w, block + 1, step, b);
    out.y = flip_word(me.y, iy, w, thr);
    batch.words(w, block + 2, step, b);
    out.z = flip_word(me.z, iz, w, thr);
    batch.words(w, block + 3, step, b);
    out.w = flip_word(me.w, iw, w, thr);
    *(uint4*)(own + row + i0) = out;
}
