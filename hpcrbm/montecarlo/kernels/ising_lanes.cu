// Small Ising lattices (1D or 2D, at most LANES_SITES sites, kernels/gpu.py), many at once: the batch path.
//
// Each thread block holds `groups` groups of 16 lattices in shared memory, interleaved by site:
// cell[site] is 16 bytes, byte j the spin of lattice 16 group + j. A thread owns one Philox block
// kb (class sites 16 kb .. 16 kb + 15, docs/rng.md) in four lattices of its group (one 32-bit word
// of each cell, its `quarter`): four Philox calls give those sites' random top bytes, table
// indices are summed four lattices per 32-bit operation, and each lattice compares with the top
// bytes of its own table, kept in shared memory (ties, 1 in 256, read the full table). All sweeps
// run in one launch; global memory is touched only to load and store the lattices.
#define LANES 16

struct LaneInfo {  // per lattice of a block (sizeof: LANE_INFO / LANES in kernels/gpu.py)
    unsigned int point, replica, table;  // point * 256, replica, offset of its threshold table
    unsigned short top[12];  // t >> 24 (0 .. 256) of each table entry
};

// Per byte (lattice) of one word of the cells (cell[4 i] is site i): the table index
// ((s + 1) / 2) (z + 1) + (neighbour sum + z) / 2 of `site`, neighbours nb, from the spins'
// 0x02 bits (set for -1).
__device__ __forceinline__ unsigned int lattice_index(const unsigned int* cell, int site, const int nb[4], int dim)
{
    const unsigned int m = 0x02020202u, z = 2 * dim;
    unsigned int down_2 = (cell[4 * nb[0]] & m) + (cell[4 * nb[1]] & m);
    if (dim == 2) down_2 += (cell[4 * nb[2]] & m) + (cell[4 * nb[3]] & m);
    return 0x01010101u * (2 * z + 1) - (((z + 1) * (cell[4 * site] & m) + down_2) >> 1);
}

extern "C" __global__ void ising_lanes_shared(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L,
                                              int threads_per_group, unsigned int sweep_start, int n_sweeps)
{
    extern __shared__ uint4 cells[];  // groups x n_sites cells, then a LaneInfo per lattice
    const int n_sites = dim == 2 ? L * L : L, z = 2 * dim;
    const int groups = blockDim.x / threads_per_group;
    const int first = blockIdx.x * groups * LANES;  // first lattice of this block
    LaneInfo* lane_info = (LaneInfo*)(cells + groups * n_sites);
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
        for (int i = 0; i < 2 * z + 2; ++i) info.top[i] = (unsigned short)(tables[info.table + i] >> 24);
    }
    __syncthreads();
    const int group = threadIdx.x / threads_per_group, quarter = threadIdx.x % 4;
    const int lanes = group < groups ? min(LANES, n_lattices - first - group * LANES) : 0;
    const int mine = min(4, max(0, lanes - 4 * quarter));  // lattices of this thread
    unsigned int* cell = (unsigned int*)(cells + group * n_sites) + quarter;  // word of site i: cell[4 i]
    const LaneInfo* info = lane_info + LANES * group + 4 * quarter;
    const int colours = n_colours(dim, L);
    for (int sweep = 0; sweep < n_sweeps; ++sweep) {
        for (int colour = 0; colour < colours; ++colour) {
            const int count = (int)class_size(dim, L, colour);
            const unsigned int step = (sweep_start + sweep) * colours + colour;
            for (int kb = (threadIdx.x % threads_per_group) / 4; mine > 0 && 16 * kb < count;
                 kb += threads_per_group / 4) {
                unsigned int w[4][4];
#pragma unroll
                for (int l = 0; l < 4; ++l)
                    if (l < mine) philox_block(w[l], kb, step, info[l].replica, info[l].point + purpose, key);
                ClassCursor<int> cursor(dim, L, colour, 16 * kb);
                unsigned long long ties = 0;  // bit 4 j + l: site j of lattice l tied (left unflipped)
#pragma unroll
                for (int j = 0; j < 16; ++j, cursor.next()) {
                    if (16 * kb + j >= count) break;
                    int site, nb[4];
                    cursor.site(&site, nb);
                    const unsigned int me = cell[4 * site], index = lattice_index(cell, site, nb, dim);
                    unsigned int flips = 0;
#pragma unroll
                    for (int l = 0; l < 4; ++l) {
                        if (l >= mine) break;
                        const unsigned int top = (w[l][j >> 2] >> (8 * (j & 3))) & 0xFFu;
                        const unsigned int hi = info[l].top[(index >> (8 * l)) & 0xFFu];
                        flips |= top < hi ? 0xFEu << (8 * l) : 0u;
                        ties |= (unsigned long long)(top == hi) << (4 * j + l);
                    }
                    cell[4 * site] = me ^ flips;
                }
                for (; ties; ties &= ties - 1) {  // about once in four Philox blocks of a thread
                    const int bit = __ffsll(ties) - 1, j = bit >> 2, l = bit & 3, k = 16 * kb + j;
                    int site, nb[4];
                    ClassCursor<int>(dim, L, colour, k).site(&site, nb);
                    const unsigned int i = (lattice_index(cell, site, nb, dim) >> (8 * l)) & 0xFFu;
                    // the random top byte tied: it equals t >> 24
                    if (ising_flips(info[l].top[i], tables[info[l].table + i], k, step, info[l].replica,
                                    info[l].point + tie, key))
                        cell[4 * site] ^= 0xFEu << (8 * l);
                }
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
