import { blkioWeightToIoWeight } from '../convert.js';
import type { CgroupWrite, Resources, ThrottleDevice } from '../types.js';

export const WEIGHT = 'io.weight';
export const BFQ_WEIGHT = 'io.bfq.weight';
export const MAX = 'io.max';
export const STAT = 'io.stat';
export const PRESSURE = 'io.pressure';

const UNSUPPORTED = 'Block I/O weight is not supported: neither io.bfq.weight nor io.weight exists';

/**
 * Weight: io.bfq.weight takes the v1 range (10..1000) as is; io.weight (1..10000)
 * gets the converted value (crun does the same). io.max: one line per device with
 * every key given for it ("8:0 rbps=1048576 wiops=100"); a rate of 0 is "max".
 */
export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.blkioWeight !== undefined && res.blkioWeight > 0) {
    out.push({
      file: BFQ_WEIGHT,
      value: String(res.blkioWeight),
      orElse: { file: WEIGHT, value: `default ${blkioWeightToIoWeight(res.blkioWeight)}`, unsupported: UNSUPPORTED },
    });
  }
  for (const d of res.blkioWeightDevice ?? []) {
    out.push({
      file: BFQ_WEIGHT,
      value: `${d.major}:${d.minor} ${d.weight}`,
      orElse: { file: WEIGHT, value: `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}`, unsupported: UNSUPPORTED },
    });
  }
  const lines = new Map<string, string[]>();
  const add = (key: string, devs: ThrottleDevice[] | undefined) => {
    for (const d of devs ?? []) {
      const dev = `${d.major}:${d.minor}`;
      if (!lines.has(dev)) lines.set(dev, []);
      lines.get(dev)!.push(`${key}=${d.rate > 0 ? d.rate : 'max'}`);
    }
  };
  add('rbps', res.blkioDeviceReadBps);
  add('wbps', res.blkioDeviceWriteBps);
  add('riops', res.blkioDeviceReadIOps);
  add('wiops', res.blkioDeviceWriteIOps);
  for (const [dev, kv] of lines) out.push({ file: MAX, value: `${dev} ${kv.join(' ')}` });
  return out;
}
