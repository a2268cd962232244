import type { CgroupWrite, Resources, ThrottleDevice } from '../types.js';

export const WEIGHT = 'blkio.weight';
export const BFQ_WEIGHT = 'blkio.bfq.weight';
export const WEIGHT_DEVICE = 'blkio.weight_device';
export const BFQ_WEIGHT_DEVICE = 'blkio.bfq.weight_device';
export const READ_BPS = 'blkio.throttle.read_bps_device';
export const WRITE_BPS = 'blkio.throttle.write_bps_device';
export const READ_IOPS = 'blkio.throttle.read_iops_device';
export const WRITE_IOPS = 'blkio.throttle.write_iops_device';
export const IO_SERVICE_BYTES = 'blkio.throttle.io_service_bytes_recursive';
export const IO_SERVICED = 'blkio.throttle.io_serviced_recursive';

const c = 'blkio';
const WEIGHT_UNSUPPORTED =
  'Block I/O weight is not supported: the kernel exposes no blkio weight file (the block scheduler is not CFQ/BFQ)';

function throttle(file: string, devs: ThrottleDevice[] | undefined): CgroupWrite[] {
  // One write per device: the kernel parses a single "major:minor rate" per write.
  return (devs ?? []).map((d) => ({ controller: c, file, value: `${d.major}:${d.minor} ${d.rate}` }));
}

export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.blkioWeight !== undefined && res.blkioWeight > 0) {
    out.push({
      controller: c,
      file: WEIGHT,
      value: String(res.blkioWeight),
      orElse: { controller: c, file: BFQ_WEIGHT, value: String(res.blkioWeight), unsupported: WEIGHT_UNSUPPORTED },
    });
  }
  for (const d of res.blkioWeightDevice ?? []) {
    const value = `${d.major}:${d.minor} ${d.weight}`;
    out.push({
      controller: c,
      file: WEIGHT_DEVICE,
      value,
      orElse: { controller: c, file: BFQ_WEIGHT_DEVICE, value, unsupported: WEIGHT_UNSUPPORTED },
    });
  }
  out.push(...throttle(READ_BPS, res.blkioDeviceReadBps));
  out.push(...throttle(WRITE_BPS, res.blkioDeviceWriteBps));
  out.push(...throttle(READ_IOPS, res.blkioDeviceReadIOps));
  out.push(...throttle(WRITE_IOPS, res.blkioDeviceWriteIOps));
  return out;
}
