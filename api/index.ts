// api: the Docker Engine API over the daemon's services. Its face is the server
// factory; daemon/main.ts (the process) is its one importer.
export { buildServer } from './server.js';
export type { ApiDeps } from './deps.js';
export { owningRequest, type RequestOwner } from './request-context.js';
