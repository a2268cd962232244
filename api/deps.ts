// What the API is given: the daemon's services, one typed backend per resource
// (daemon/index.ts). Services other than system are optional so tests can build a
// server with only the parts they exercise; routes of absent services are not registered.
import type { Services } from '../daemon/index.js';

export type ApiDeps = Services;
