/* Reference for `hpcrbm bench mc`: plain single-core C checkerboard Metropolis for the 2D
 * Ising model, one byte per spin, xoshiro128** random words, integer acceptance thresholds.
 * Usage: mc_reference L SWEEPS T   -> prints {"flips_per_ns": ...} as JSON.
 * Built and run by benchmarks/bench_mc.sh; not part of the package. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint32_t st[4] = {0x9E3779B9u, 0x243F6A88u, 0xB7E15162u, 0x85A308D3u};
static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static inline uint32_t next(void) {
  uint32_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 9;
  st[2] ^= st[0]; st[3] ^= st[1]; st[1] ^= st[2]; st[0] ^= st[3]; st[2] ^= t; st[3] = rotl(st[3], 11);
  return r;
}

int main(int argc, char **argv) {
  int L = argc > 1 ? atoi(argv[1]) : 1024, sweeps = argc > 2 ? atoi(argv[2]) : 100;
  double T = argc > 3 ? atof(argv[3]) : 2.269;
  int8_t *s = malloc((size_t)L * L);
  uint64_t thr[2][5];
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 5; b++) {
      double dE = 2.0 * (2 * a - 1) * (2 * b - 4);
      thr[a][b] = dE <= 0 ? (1ull << 32) : (uint64_t)floor(exp(-dE / T) * 4294967296.0);
    }
  for (long i = 0; i < (long)L * L; i++) s[i] = (next() >> 31) ? 1 : -1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int t = 0; t < sweeps; t++)
    for (int c = 0; c < 2; c++)
      for (int y = 0; y < L; y++) {
        int8_t *row = s + (long)y * L, *up = s + (long)((y + L - 1) % L) * L, *dn = s + (long)((y + 1) % L) * L;
        for (int x = (y + c) & 1; x < L; x += 2) {
          int xl = x ? x - 1 : L - 1, xr = x < L - 1 ? x + 1 : 0;
          int nb = up[x] + dn[x] + row[xl] + row[xr], si = row[x];
          if ((uint64_t)next() < thr[(si + 1) >> 1][(nb + 4) >> 1]) row[x] = -si;
        }
      }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
  long m = 0;
  for (long i = 0; i < (long)L * L; i++) m += s[i];
  printf("{\"benchmark\": \"mc_reference_c\", \"L\": %d, \"sweeps\": %d, \"flips_per_ns\": %.4f, \"m\": %.4f}\n",
         L, sweeps, (double)sweeps * L * L / ns, (double)m / ((double)L * L));
  free(s);
  return 0;
}
