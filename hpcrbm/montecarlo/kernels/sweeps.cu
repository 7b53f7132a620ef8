// The two launch shapes of checkerboard Metropolis, for any Rule (IsingRule, QStateRule) on a
// batch of lattices (natural layout: int8 (n_lattices, L, L) or (n_lattices, L)).
//
// half_sweep: one launch per colour class; threads t = b * per_lattice + block run over the Philox
//   blocks of every lattice of the batch (any size, spins in global memory).
// sweeps_shared: lattices small enough for shared memory (one block holds `per_block` whole
//   lattices, threads_per_lattice threads each) run all n_sweeps sweeps in one launch and touch
//   global memory only to load and store them: thousands of 10 x 10 lattices in one launch.

// The sites of Philox block `block` of a colour class (Rule::SITES consecutive sites; the last
// block may be short), each updated by the Rule with the block's words w; sites whose update tied
// (1 in 256; q-state models also a proposal byte in the tail) are decided after the block by
// Rule::resolve. I: index type.
template <class Rule, class I>
__device__ __forceinline__ void update_block(signed char* s, int dim, int L, int q, int colour, I block, I count,
                                             const Batch& batch, unsigned int step, int b, const unsigned long long* table)
{
    unsigned int w[4];
    batch.words(w, block, step, b);
    ClassCursor<I> cursor(dim, L, colour, Rule::SITES * block);
    unsigned int ties = 0;  // bit j: site j tied, decided after the block
#pragma unroll
    for (int j = 0; j < Rule::SITES; ++j, cursor.next()) {
        const I k = Rule::SITES * block + j;
        if (k >= count) break;
        I site, nb[4];
        cursor.site(&site, nb);
        ties |= (unsigned int)Rule::update(s, site, nb, dim, q, w, j, table) << j;
    }
    for (; ties; ties &= ties - 1) {
        const int j = __ffs(ties) - 1;
        const I k = Rule::SITES * block + j;
        I site, nb[4];
        ClassCursor<I>(dim, L, colour, k).site(&site, nb);
        Rule::resolve(s, site, nb, dim, q, w, j, table, batch, k, step, b);
    }
}

template <class Rule>
__device__ __forceinline__ void half_sweep(signed char* spins, Batch batch, int dim, int L, int q, unsigned int step,
                                           int colour)
{
    const long long count = class_size(dim, L, colour);
    const long long per_lattice = (count + Rule::SITES - 1) / Rule::SITES;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= per_lattice * batch.n_lattices) return;
    const int b = (int)(t / per_lattice);
    const long long block = t % per_lattice;
    const long long n_sites = dim == 2 ? (long long)L * L : L;
    update_block<Rule, long long>(spins + b * n_sites, dim, L, q, colour, block, count, batch, step, b, batch.table(b));
}

template <class Rule>
__device__ __forceinline__ void sweeps_shared(signed char* spins, Batch batch, int dim, int L, int q,
                                              int threads_per_lattice, unsigned int sweep_start, int n_sweeps)
{
    extern __shared__ signed char lattices[];
    const int n_sites = dim == 2 ? L * L : L;
    const int per_block = blockDim.x / threads_per_lattice;
    const int b0 = blockIdx.x * per_block;
    const int here = min(per_block, batch.n_lattices - b0);
    signed char* global = spins + (long long)b0 * n_sites;
    for (int i = threadIdx.x; i < here * n_sites; i += blockDim.x) lattices[i] = global[i];
    __syncthreads();
    const int local = threadIdx.x / threads_per_lattice, b = b0 + local;
    const bool active = local < here;
    signed char* s = lattices + local * n_sites;
    const unsigned long long* table = batch.table(active ? b : 0);
    const int colours = n_colours(dim, L);
    for (int sweep = 0; sweep < n_sweeps; ++sweep) {
        for (int colour = 0; colour < colours; ++colour) {
            const int count = (int)class_size(dim, L, colour);
            const unsigned int step = (sweep_start + sweep) * colours + colour;
            if (active) {
                for (int block = threadIdx.x % threads_per_lattice; block * Rule::SITES < count;
                     block += threads_per_lattice) {
                    update_block<Rule, int>(s, dim, L, q, colour, block, count, batch, step, b, table);
                }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < here * n_sites; i += blockDim.x) global[i] = lattices[i];
}

#define HPCRBM_BATCH_ARGS const unsigned long long *tables, const int *points, int table_size, int replicas, \
    int n_lattices, PhiloxKey key, unsigned int purpose, unsigned int tie
#define HPCRBM_BATCH Batch{tables, points, table_size, replicas, n_lattices, key, purpose, tie}

extern "C" __global__ void ising_half_sweep(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L, unsigned int step,
                                            int colour)
{
    half_sweep<IsingRule>(spins, HPCRBM_BATCH, dim, L, 2, step, colour);
}

extern "C" __global__ void qstate_half_sweep(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L, int q,
                                             unsigned int step, int colour)
{
    half_sweep<QStateRule>(spins, HPCRBM_BATCH, dim, L, q, step, colour);
}

extern "C" __global__ void ising_sweeps_shared(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L,
                                               int threads_per_lattice, unsigned int sweep_start, int n_sweeps)
{
    sweeps_shared<IsingRule>(spins, HPCRBM_BATCH, dim, L, 2, threads_per_lattice, sweep_start, n_sweeps);
}

extern "C" __global__ void qstate_sweeps_shared(signed char* spins, HPCRBM_BATCH_ARGS, int dim, int L, int q,
                                                int threads_per_lattice, unsigned int sweep_start, int n_sweeps)
{
    sweeps_shared<QStateRule>(spins, HPCRBM_BATCH, dim, L, q, threads_per_lattice, sweep_start, n_sweeps);
}
