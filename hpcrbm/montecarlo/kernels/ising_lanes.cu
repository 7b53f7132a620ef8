// Small Ising lattices (1D or 2D, at most LANES_SITES sites, kernels/gpu.py), many at once: the batch path.
//
// Each thread block holds `groups` groups of 16 lattices in shared memory, interleaved by site:
// cell[site] is 16 bytes, byte j the spin of lattice 16 group + j, and one table of every class
// site's index and neighbours (built at the start, so the sweeps do no index arithmetic beyond
// two shifts per neighbour). A thread owns one Philox block
// kb (class sites 16 kb .. 16 kb + 15, docs/rng.md) in four lattices of its group (one 32-bit word
// of each cell, its `quarter`): four Philox calls give those sites' random top bytes. Table
// indices are summed four lattices per 32-bit operation; when the four lattices share a grid point
// (always when the replicas are a multiple of 4) the acceptance tests are byte-wise too (ising.cu),
// else each lattice compares with the top bytes of its own table. Ties (1 in 256) are resolved
// after the block. All sweeps run in one launch; global memory is touched only to load and store
// the lattices.
#define LANES 16

struct LaneInfo {  // per lattice of a block (sizeof: LANE_INFO / LANES in kernels/gpu.py)
    unsigned int point, replica, table;  // point * 256, replica, offset of its threshold table
    unsigned char top[12];  // top_byte of each table entry
};

// Entries of the site table: byte offsets (16 x index: below 2^16 for LANES_SITES sites) of a class
// site's cell and its neighbours' cells, site | up << 16, down | left << 16, right (2D), or
// site | left << 16, right (1D): the neighbours in ClassCursor's order.
__device__ __forceinline__ uint4 site_entry(int dim, int L, int colour, int k)
{
    int site, nb[4] = {0, 0, 0, 0};
    ClassCursor<int>(dim, L, colour, k).site(&site, nb);
    return make_uint4(16u * site | 16u * nb[0] << 16, 16u * nb[1] | 16u * nb[2] << 16, 16u * nb[3], 0u);
}

// This thread's word (four lattices) of the cell at byte offset `offset`; base: its group's cells + 4 quarter.
__device__ __forceinline__ unsigned int& cell_word(unsigned char* base, unsigned int offset)
{
    return *(unsigned int*)(base + offset);
}

// Per byte (lattice), spins +-1 (0x01, 0xFF): 2 x the number of down neighbours of entry e's site.
template <int DIM>
__device__ __forceinline__ unsigned int down2(unsigned char* base, const uint4& e)
{
    const unsigned int m = 0x02020202u;
    if (DIM == 1) return (cell_word(base, e.x >> 16) & m) + (cell_word(base, e.y & 0xFFFFu) & m);
    return (cell_word(base, e.x >> 16) & m) + (cell_word(base, e.y & 0xFFFFu) & m) + (cell_word(base, e.y >> 16) & m)
           + (cell_word(base, e.z) & m);
}

// Per byte: the table index ((s + 1) / 2) (z + 1) + (neighbour sum + z) / 2 of a spin me with
// down2 from down2().
__device__ __forceinline__ unsigned int bytes_index(unsigned int me, unsigned int down_2, int z)
{
    return 0x01010101u * (2 * z + 1) - (((unsigned int)(z + 1) * (me & 0x02020202u) + down_2) >> 1);
}

// One Philox block kb of colour `colour` in this thread's `mine` lattices (info[0 .. mine - 1]).
// SAME_TABLE: the lattices share one table, whose top bytes are `tb`. DIM: 1 or 2 (compile-time,
// so that each variant's hot loop holds only its own code).
template <bool SAME_TABLE, int DIM>
__device__ __forceinline__ void lanes_block(unsigned char* base, const uint4* entries, const LaneInfo* info, int mine,
                                            int kb, int count, unsigned int step, const TopBytes& tb,
                                            const unsigned long long* tables, const PhiloxKey& key,
                                            unsigned int purpose, unsigned int tie)
{
    const int z = 2 * DIM;
    unsigned int w[4][4];
    unsigned int lanes_mask = 0;  // 0xFF in the bytes of this thread's lattices
#pragma unroll
    for (int l = 0; l < 4; ++l) {
        w[l][0] = w[l][1] = w[l][2] = w[l][3] = 0;
        if (l < mine) {
            philox_block(w[l], kb, step, info[l].replica, info[l].point + purpose, key);
            lanes_mask |= 0xFFu << (8 * l);
        }
    }
    unsigned long long ties = 0;  // bit 4 j + l: site j of lattice l tied (left unflipped)
#pragma unroll
    for (int j = 0; j < 16; ++j) {
        if (16 * kb + j >= count) break;
        const uint4 e = entries[16 * kb + j];
        unsigned int& spins = cell_word(base, e.x & 0xFFFFu);
        const unsigned int me = spins, d = down2<DIM>(base, e);
        unsigned int flips = 0, tied = 0;  // 0xFE / 0x80 per byte (lattice)
        if (SAME_TABLE) {
            const unsigned int sel = 0x11u * (j & 3) + 0x40u;  // byte j % 4 of a, then of b
            const unsigned int r = __byte_perm(__byte_perm(w[0][j >> 2], w[1][j >> 2], sel),
                                               __byte_perm(w[2][j >> 2], w[3][j >> 2], sel), 0x5410);
            unsigned int minus = me ^ 0x01010101u;  // 0xFE where s = -1
            minus |= minus >> 1;
            const unsigned int t = top_thresholds(minus, d >> 1, tb);
            flips = ((bytes_below(r, t) >> 7) * 0xFEu) & lanes_mask;
            tied = bytes_equal(r, t) & lanes_mask;
        } else {
            const unsigned int index = bytes_index(me, d, z);
#pragma unroll
            for (int l = 0; l < 4; ++l) {
                const unsigned int top = (w[l][j >> 2] >> (8 * (j & 3))) & 0xFFu;
                const unsigned int hi = l < mine ? info[l].top[(index >> (8 * l)) & 0xFFu] : 0u;
                flips |= top < hi ? 0xFEu << (8 * l) : 0u;
                tied |= top == hi && l < mine ? 0x80u << (8 * l) : 0u;
            }
        }
        spins = me ^ flips;
        ties |= (unsigned long long)(((tied >> 7) * 0x10204080u) >> 28) << (4 * j);  // bytes' 0x80 -> 4 bits
    }
    for (; ties; ties &= ties - 1) {  // about once in four blocks of a thread
        const int bit = __ffsll(ties) - 1, l = bit & 3, k = 16 * kb + (bit >> 2);
        const uint4 e = entries[k];
        unsigned int& spins = cell_word(base, e.x & 0xFFFFu);
        const unsigned int i = (bytes_index(spins, down2<DIM>(base, e), z) >> (8 * l)) & 0xFFu;
        const unsigned long long t = tables[info[l].table + i];
        if (ising_flips(top_byte(t), t, k, step, info[l].replica, info[l].point + tie, key)) spins ^= 0xFEu << (8 * l);
    }
}

extern "C" __global__ void ising_lanes_shared(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L,
                                              int threads_per_group, unsigned int sweep_start, int n_sweeps)
{
    extern __shared__ uint4 cells[];  // groups x n_sites cells, n_sites site entries, a LaneInfo per lattice
    const int n_sites = dim == 2 ? L * L : L, z = 2 * dim;
    const int groups = blockDim.x / threads_per_group;
    const int first = blockIdx.x * groups * LANES;  // first lattice of this block
    uint4* entries = cells + groups * n_sites;  // colour classes one after the other
    LaneInfo* lane_info = (LaneInfo*)(entries + n_sites);
    const int colours = n_colours(dim, L);
    for (int colour = 0, offset = 0; colour < colours; offset += (int)class_size(dim, L, colour++))
        for (int k = threadIdx.x; k < class_size(dim, L, colour); k += blockDim.x)
            entries[offset + k] = site_entry(dim, L, colour, k);
    unsigned char* bytes = (unsigned char*)cells;
    for (int i = threadIdx.x; i < groups * LANES * n_sites; i += blockDim.x) {
        const int l = i / n_sites, site = i - l * n_sites;  // lattice l of the block: coalesced reads
        const int b = first + l;
        bytes[((l / LANES) * n_sites + site) * LANES + l % LANES] = b < n_lattices ? spins[(long long)b * n_sites + site] : 1;
    }
    for (int l = threadIdx.x; l < groups * LANES; l += blockDim.x) {
        const int b = min(first + l, n_lattices - 1);
        LaneInfo& info = lane_info[l];
        info.point = (unsigned int)points[b / replicas] * 256u;
        info.replica = b % replicas;
        info.table = (b / replicas) * table_size;
        for (int i = 0; i < 2 * z + 2; ++i) info.top[i] = (unsigned char)top_byte(tables[info.table + i]);
    }
    __syncthreads();
    const int group = threadIdx.x / threads_per_group, quarter = threadIdx.x % 4;
    const int lanes = group < groups ? min(LANES, n_lattices - first - group * LANES) : 0;
    const int mine = min(4, max(0, lanes - 4 * quarter));  // lattices of this thread
    unsigned char* base = (unsigned char*)(cells + group * n_sites) + 4 * quarter;
    const LaneInfo* info = lane_info + LANES * group + 4 * quarter;
    bool same_table = true;
    for (int l = 1; l < mine; ++l) same_table &= info[l].table == info[0].table;
    const TopBytes tb = top_bytes(tables + info[0].table, z);
    for (int sweep = 0; sweep < n_sweeps; ++sweep) {
        for (int colour = 0, offset = 0; colour < colours; offset += (int)class_size(dim, L, colour++)) {
            const int count = (int)class_size(dim, L, colour);
            const unsigned int step = (sweep_start + sweep) * colours + colour;
            for (int kb = (threadIdx.x % threads_per_group) / 4; mine > 0 && 16 * kb < count;
                 kb += threads_per_group / 4) {
#define HPCRBM_LANES_BLOCK(SAME, DIM) \
    lanes_block<SAME, DIM>(base, entries + offset, info, mine, kb, count, step, tb, tables, key, purpose, tie)
                if (same_table && dim == 2) HPCRBM_LANES_BLOCK(true, 2);
                else if (same_table) HPCRBM_LANES_BLOCK(true, 1);
                else if (dim == 2) HPCRBM_LANES_BLOCK(false, 2);
                else HPCRBM_LANES_BLOCK(false, 1);
#undef HPCRBM_LANES_BLOCK
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < groups * LANES * n_sites; i += blockDim.x) {
        const int l = i / n_sites, site = i - l * n_sites;
        const int b = first + l;
        if (b < n_lattices) spins[(long long)b * n_sites + site] = bytes[((l / LANES) * n_sites + site) * LANES + l % LANES];
    }
}
