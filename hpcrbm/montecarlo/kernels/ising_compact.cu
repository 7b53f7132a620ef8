// 2D Ising on colour-compacted planes, for large lattices (L % 32 == 0): the fast path.
//
// Layout: planes[b][colour][y][i] = (1 - s[b][y][((y + colour) & 1) + 2 i]) / 2, i < L / 2: one
// byte per spin, 0 for up and 1 for down, int8 (n_lattices, 2, L, L / 2), so that byte-wise adds
// count down neighbours and a flip is an XOR with 1. Index i of a row is the class numbering k = y L/2 + i of
// docs/rng.md, so results equal the natural-layout kernels bit for bit. Site (y, i) of colour c
// has its up/down neighbours at (y -+ 1, i) of the other plane and its left/right neighbours at
// (y, i - 1), (y, i) when (y + c) is even, (y, i), (y, i + 1) when odd.
//
// One thread updates a segment of 16 consecutive sites in COMPACT_ROWS consecutive rows: per row
// 16-byte loads of its own segment and of the other plane's next row (the rows above and beside
// stay in registers), one byte for the segment's edge, one Philox block (the 16 sites' random top
// bytes, docs/rng.md) and one 16-byte store. Decisions are taken four sites per 32-bit operation:
// the thresholds' top bytes by a byte permutation of a per-lattice table, an unsigned byte-wise
// compare; a site whose random byte ties with its threshold's (1 in 256) is decided exactly with
// the tie stream. Grid: x over segments and row chunks of one lattice, y over lattices (strided
// when there are more than gridDim.y).
// Compile-time knobs; kernels/gpu.py passes its TUNED values (these defaults are for nvcc alone).
#ifndef COMPACT_ROWS
#define COMPACT_ROWS 16  // rows per thread (a divisor of 32)
#endif
#ifndef COMPACT_MIN_BLOCKS
#define COMPACT_MIN_BLOCKS 4  // resident 256-thread blocks per multiprocessor asked of the register allocator
#endif
#ifndef COMPACT_UNROLL
#define COMPACT_UNROLL 1  // rows per iteration of the row loop (2 saves the register moves between rows)
#endif
constexpr int compact_unroll = COMPACT_UNROLL;

__device__ __forceinline__ unsigned int word(const uint4& v, int j) { return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w; }

// Tied sites of a thread (left unflipped by the top bytes) wait in a queue of two 16-bit entries,
// 0x8000 | (row - y0) << 8 | segment site << 4 | down << 3 | down neighbours. Resolving them
// after the thread's rows (or when the queue is full) lets a warp pay for a few tie draws per 16
// rows instead of one in most rows (a tie falls on one of 256 sites: most 512-site warp rows have one).
__device__ __forceinline__ void resolve_ties(unsigned char* own, unsigned int queue, int y0, int half, int i0,
                                             const unsigned long long* table, unsigned int step, unsigned int replica,
                                             unsigned int c3_tie, const PhiloxKey& key)
{
    for (; queue; queue >>= 16) {
        const unsigned int e = queue & 0x7FFFu, down = (e >> 3) & 1u;
        const unsigned int k = (unsigned int)(y0 + (int)(e >> 8)) * half + i0 + ((e >> 4) & 15u);
        const unsigned long long t = table[(down ? 4 : 9) - (e & 7u)];
        if (ising_flips(top_byte(t), t, k, step, replica, c3_tie, key)) own[k] = (unsigned char)(down ^ 1u);
    }
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
        const TopBytes tb = top_bytes(table, 4);
        const unsigned int replica = b % replicas, point = (unsigned int)points[b / replicas] * 256u;
        const unsigned int c3 = point + purpose, c3_tie = point + tie;
        unsigned char* own = (unsigned char*)planes + (2ULL * b + colour) * plane;
        const unsigned char* other = (const unsigned char*)planes + (2ULL * b + 1 - colour) * plane;
        // 32-bit offsets (a plane has at most 2^31 bytes), added to the pointers last
        uint4 above = __ldg((const uint4*)(other + ((unsigned int)(y0 == 0 ? L - 1 : y0 - 1) * half + i0)));
        uint4 mid = __ldg((const uint4*)(other + ((unsigned int)y0 * half + i0)));
        uint4 below = __ldg((const uint4*)(other + ((unsigned int)(y0 == L - 1 ? 0 : y0 + 1) * half + i0)));
        uint4 me = *(const uint4*)(own + ((unsigned int)y0 * half + i0));
        unsigned int queue = 0;
#pragma unroll compact_unroll
        for (int y = y0; y < y0 + COMPACT_ROWS; ++y) {
            const unsigned int row = (unsigned int)y * half;
            uint4 side;  // the neighbour on the side that `mid` does not cover, byte by byte
            if (((y + colour) & 1) == 0) {  // x = 2i: neighbours i - 1 (side) and i (mid)
                const unsigned int edge = other[row + (unsigned int)(g == 0 ? half - 1 : i0 - 1)];
                side.x = __funnelshift_l(edge << 24, mid.x, 8);
                side.y = __funnelshift_l(mid.x, mid.y, 8);
                side.z = __funnelshift_l(mid.y, mid.z, 8);
                side.w = __funnelshift_l(mid.z, mid.w, 8);
            } else {  // x = 2i + 1: neighbours i (mid) and i + 1 (side)
                const unsigned int edge = other[row + (unsigned int)(g == groups - 1 ? 0 : i0 + 16)];
                side.x = __funnelshift_r(mid.x, mid.y, 8);
                side.y = __funnelshift_r(mid.y, mid.z, 8);
                side.z = __funnelshift_r(mid.z, mid.w, 8);
                side.w = __funnelshift_r(mid.w, edge, 8);
            }
            const unsigned int k = row + i0;  // class index of the segment's first site
            unsigned int w[4];
            philox_block(w, k >> 4, step, replica, c3, key);
            const uint4 d = make_uint4(above.x + mid.x + side.x + below.x, above.y + mid.y + side.y + below.y,
                                       above.z + mid.z + side.z + below.z, above.w + mid.w + side.w + below.w);
            uint4 out;  // flips decided by the top bytes; ties: bit 8 b + 7 - j for byte b of word j
            unsigned int t = top_thresholds(me.x * 0xFFu, d.x, tb), ties = bytes_equal(w[0], t);
            out.x = me.x ^ (bytes_below(w[0], t) >> 7);
            t = top_thresholds(me.y * 0xFFu, d.y, tb);
            out.y = me.y ^ (bytes_below(w[1], t) >> 7);
            ties |= bytes_equal(w[1], t) >> 1;
            t = top_thresholds(me.z * 0xFFu, d.z, tb);
            out.z = me.z ^ (bytes_below(w[2], t) >> 7);
            ties |= bytes_equal(w[2], t) >> 2;
            t = top_thresholds(me.w * 0xFFu, d.w, tb);
            out.w = me.w ^ (bytes_below(w[3], t) >> 7);
            ties |= bytes_equal(w[3], t) >> 3;
            *(uint4*)(own + k) = out;
            for (; ties; ties &= ties - 1) {  // about one tie per 16 rows of a thread
                if (queue >> 16) {  // full
                    resolve_ties(own, queue, y0, half, i0, table, step, replica, c3_tie, key);
                    queue = 0;
                }
                const int bit = __ffs(ties) - 1, j = 7 - (bit & 7), shift = 8 * (bit >> 3);
                queue = queue << 16 | 0x8000u | (unsigned int)(y - y0) << 8 | (4 * j + (bit >> 3)) << 4
                        | ((word(me, j) >> shift) & 1u) << 3 | ((word(d, j) >> shift) & 7u);
            }
            above = mid;
            mid = below;
            if (y + 1 < y0 + COMPACT_ROWS) {  // the next row's segments
                below = __ldg((const uint4*)(other + ((unsigned int)(y + 2 >= L ? y + 2 - L : y + 2) * half + i0)));
                me = *(const uint4*)(own + (row + half + i0));
            }
        }
        resolve_ties(own, queue, y0, half, i0, table, step, replica, c3_tie, key);
    }
}

// Natural layout (+-1) <-> colour planes (1 = down), 32 bytes of a row per thread (L % 32 == 0).
// Row y's even-x bytes belong to plane y & 1, its odd-x bytes to plane 1 - (y & 1).
__device__ __forceinline__ uint4 down_bits(uint4 s)
{
    const unsigned int m = 0x01010101u;
    return make_uint4((s.x >> 1) & m, (s.y >> 1) & m, (s.z >> 1) & m, (s.w >> 1) & m);
}

__device__ __forceinline__ uint4 spin_bytes(uint4 v)
{
    const unsigned int m = 0x01010101u;
    return make_uint4(v.x * 0xFEu | m, v.y * 0xFEu | m, v.z * 0xFEu | m, v.w * 0xFEu | m);
}

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
        const uint4 a = down_bits(natural[0]), c = down_bits(natural[1]);
        *even = make_uint4(__byte_perm(a.x, a.y, 0x6420), __byte_perm(a.z, a.w, 0x6420),
                           __byte_perm(c.x, c.y, 0x6420), __byte_perm(c.z, c.w, 0x6420));
        *odd = make_uint4(__byte_perm(a.x, a.y, 0x7531), __byte_perm(a.z, a.w, 0x7531),
                          __byte_perm(c.x, c.y, 0x7531), __byte_perm(c.z, c.w, 0x7531));
    } else {
        const uint4 e = spin_bytes(*even), o = spin_bytes(*odd);
        natural[0] = make_uint4(__byte_perm(e.x, o.x, 0x5140), __byte_perm(e.x, o.x, 0x7362),
                                __byte_perm(e.y, o.y, 0x5140), __byte_perm(e.y, o.y, 0x7362));
        natural[1] = make_uint4(__byte_perm(e.z, o.z, 0x5140), __byte_perm(e.z, o.z, 0x7362),
                                __byte_perm(e.w, o.w, 0x5140), __byte_perm(e.w, o.w, 0x7362));
    }
}
