// Small Ising lattices (1D or 2D, at most LANES_SITES sites, kernels/gpu.py), many at once: the batch path.
//
// Each thread block holds `groups` groups of 16 lattices in shared memory, interleaved by site:
// cell[site] is 16 bytes, byte j the spin of lattice 16 group + j, so one 16-byte load gives a
// site in 16 lattices and table indices are summed four lattices at a time (bytes_index). A
// thread owns Philox block kb (class sites 4 kb .. 4 kb + 3) of its group's 16 lattices: one
// Philox call per lattice gives the four words of those sites, exactly the words of docs/rng.md.
// All sweeps run in one launch; global memory is touched only to load and store the lattices.
#define LANES 16

extern "C" __global__ void ising_lanes_shared(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L,
                                              int threads_per_group, unsigned int sweep_start, int n_sweeps)
{
    extern __shared__ uint4 cells[];  // groups x n_sites cells, then per lattice (c3, replica, table offset)
    const int n_sites = dim == 2 ? L * L : L, z = 2 * dim;
    const int groups = blockDim.x / threads_per_group;
    const int first = blockIdx.x * groups * LANES;  // first lattice of this block
    int* lane_info = (int*)(cells + groups * n_sites);
    unsigned char* bytes = (unsigned char*)cells;
    for (int i = threadIdx.x; i < groups * LANES * n_sites; i += blockDim.x) {
        const int l = i / n_sites, site = i - l * n_sites;  // lattice l of the block: coalesced reads
        const int b = first + l;
        bytes[((l / LANES) * n_sites + site) * LANES + l % LANES] = b < n_lattices ? spins[(long long)b * n_sites + site] : 1;
    }
    for (int l = threadIdx.x; l < groups * LANES; l += blockDim.x) {
        const int b = min(first + l, n_lattices - 1);
        lane_info[3 * l] = points[b / replicas] * 256 + purpose;
        lane_info[3 * l + 1] = b % replicas;
        lane_info[3 * l + 2] = (b / replicas) * table_size;
    }
    __syncthreads();
    const int group = threadIdx.x / threads_per_group;
    const bool active = group < groups;
    const int lanes = active ? min(LANES, n_lattices - first - group * LANES) : 0;
    uint4* cell = cells + group * n_sites;
    const int* info = lane_info + 3 * LANES * group;
    const int colours = n_colours(dim, L);
    for (int sweep = 0; sweep < n_sweeps; ++sweep) {
        for (int colour = 0; colour < colours; ++colour) {
            const int count = (int)class_size(dim, L, colour);
            const unsigned int step = (sweep_start + sweep) * colours + colour;
            for (int kb = threadIdx.x % threads_per_group; lanes > 0 && 4 * kb < count; kb += threads_per_group) {
                int sites[4];
                uint4 index8[4], flips[4];
#pragma unroll
                for (int s = 0; s < 4; ++s) {
                    int site = 0, nb[4] = {0, 0, 0, 0};
                    if (4 * kb + s < count) class_site<int>(dim, L, colour, 4 * kb + s, &site, nb);
                    sites[s] = site;
                    const uint4 me = cell[site], a = cell[nb[0]], c = cell[nb[1]];
                    const uint4 d = dim == 2 ? cell[nb[2]] : make_uint4(0, 0, 0, 0);
                    const uint4 e = dim == 2 ? cell[nb[3]] : make_uint4(0, 0, 0, 0);
                    index8[s] = make_uint4(bytes_index(me.x, down2(a.x, c.x, d.x, e.x), z),
                                           bytes_index(me.y, down2(a.y, c.y, d.y, e.y), z),
                                           bytes_index(me.z, down2(a.z, c.z, d.z, e.z), z),
                                           bytes_index(me.w, down2(a.w, c.w, d.w, e.w), z));
                    flips[s] = make_uint4(0, 0, 0, 0);
                }
#pragma unroll
                for (int j = 0; j < LANES; ++j) {
                    if (j >= lanes) break;
                    unsigned int w[4] = {(unsigned int)kb, step, (unsigned int)info[3 * j + 1], (unsigned int)info[3 * j]};
                    philox4x32_10(w, k0, k1);
                    const unsigned long long* table = tables + info[3 * j + 2];
                    const int word = j / 4, shift = 8 * (j % 4);
#pragma unroll
                    for (int s = 0; s < 4; ++s) {
                        const unsigned int i8 = word == 0 ? index8[s].x : word == 1 ? index8[s].y
                                              : word == 2 ? index8[s].z : index8[s].w;
                        const unsigned int flip = ((unsigned long long)w[s] < __ldg(table + ((i8 >> shift) & 0xFFu) / 8))
                                                  ? 0xFEu << shift : 0u;
                        if (word == 0) flips[s].x |= flip;
                        else if (word == 1) flips[s].y |= flip;
                        else if (word == 2) flips[s].z |= flip;
                        else flips[s].w |= flip;
                    }
                }
#pragma unroll
                for (int s = 0; s < 4; ++s) {
                    if (4 * kb + s >= count) break;
                    uint4 v = cell[sites[s]];
                    v.x ^= flips[s].x; v.y ^= flips[s].y; v.z ^= flips[s].z; v.w ^= flips[s].w;
                    cell[sites[s]] = v;
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
