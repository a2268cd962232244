import t from 'tap';
import { blkioWeightToIoWeight, cpuMax, limitToV1, limitToV2, memswV1, nanoCpusToQuota, parseLimit, sharesToWeight, swapV2 } from '../../../cgroupfs/convert.js';

t.test('sharesToWeight (crun convert_shares_to_weight)', async (t) => {
  const table: Array<[number, number]> = [[0, 0], [2, 1], [1024, 39], [512, 20], [262144, 10000], [100, 4]];
  for (const [shares, weight] of table) t.equal(sharesToWeight(shares), weight, `${shares} → ${weight}`);
});

t.test('blkioWeightToIoWeight', async (t) => {
  for (const [w, v] of [[10, 1], [1000, 10000], [500, 4950]] as const) t.equal(blkioWeightToIoWeight(w), v);
});

t.test('-1 means unlimited: "max" on v2, "-1" on v1', async (t) => {
  t.equal(limitToV2(-1), 'max');
  t.equal(limitToV2(100), '100');
  t.equal(limitToV1(-1), '-1');
  t.equal(limitToV1(5), '5');
});

t.test('parseLimit reads both spellings of unlimited', async (t) => {
  t.equal(parseLimit('max'), null);
  t.equal(parseLimit('9223372036854771712'), null);
  t.equal(parseLimit('-1'), null);
  t.equal(parseLimit('67108864\n'), 67108864);
});

t.test('swap: v1 memsw is memory+swap, v2 swap.max is swap alone', async (t) => {
  const M = 1 << 20;
  const table: Array<[number, number, string, string]> = [
    // memory, MemorySwap, v1 memsw, v2 swap.max
    [100 * M, 200 * M, String(200 * M), String(100 * M)],
    [100 * M, 100 * M, String(100 * M), '0'],
    [100 * M, -1, '-1', 'max'],
  ];
  for (const [mem, sw, v1, v2] of table) {
    t.equal(memswV1(sw), v1);
    t.equal(swapV2(mem, sw), v2);
  }
  t.throws(() => swapV2(100 * M, 50 * M), { kind: 'invalid-parameter', message: 'Minimum memoryswap limit should be larger than memory limit, see usage' });
  t.throws(() => swapV2(0, 50 * M), { kind: 'invalid-parameter', message: /always set the Memory limit/ });
});

t.test('nanoCpus → quota/period and cpu.max', async (t) => {
  t.same(nanoCpusToQuota(5e8), { quota: 50000, period: 100000 });
  t.same(nanoCpusToQuota(1.5e9), { quota: 150000, period: 100000 });
  t.same(nanoCpusToQuota(1e7), { quota: 1000, period: 100000 });
  t.equal(cpuMax(50000, 100000), '50000 100000');
  t.equal(cpuMax(-1, 100000), 'max 100000');
  t.equal(cpuMax(undefined, undefined), 'max');
});
