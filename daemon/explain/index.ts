// Public face of the primitives reader (GET /containers/{id}/primitives).
import { readFacts, type Primitives, type PrimitivesDeps } from './primitives.js';
import { verdicts } from './verdict.js';
export { type Primitives, type PrimitivesDeps, type NamespaceFact } from './primitives.js';
export { verdicts, cpuShare, mib } from './verdict.js';

/** A container read from the kernel, with its one-line verdicts. */
export async function readPrimitives(d: PrimitivesDeps, ref: string, opts: { windowSeconds?: number } = {}): Promise<Primitives> {
  const p = await readFacts(d, ref, opts);
  p.verdicts = verdicts(p);
  return p;
}
export { hostView, type HostView } from './host.js';
export { readCgroup, readCgroupV1, readCgroupV2, throttleWindow, parsePressure, parseFlatKeyed, type CgroupView } from './cgroup.js';
export { decodeCaps, parseMountinfo, parseOverlayOptions, parseProcCgroup, parseStatus, securityFromStatus, NAMESPACE_TYPES } from './proc.js';
export { parseKmsgOom } from './kmsg.js';
export { parseIpAddr, defaultGateway } from './network.js';
