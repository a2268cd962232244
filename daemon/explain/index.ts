// Public face of the primitives reader (GET /containers/{id}/primitives).
export { readPrimitives, type Primitives, type PrimitivesDeps, type NamespaceFact } from './primitives.js';
export { verdicts, cpuShare, mib } from './verdict.js';
export { hostView, type HostView } from './host.js';
export { readCgroup, readCgroupV1, readCgroupV2, throttleWindow, parsePressure, parseFlatKeyed, type CgroupView } from './cgroup.js';
export { decodeCaps, parseMountinfo, parseOverlayOptions, parseProcCgroup, parseStatus, securityFromStatus, NAMESPACE_TYPES } from './proc.js';
export { parseKmsgOom } from './kmsg.js';
export { parseIpAddr, defaultGateway } from './network.js';
