// Live restore (--live-restore): containers outlive the daemon. holder.ts is the one
// process per exec root that keeps their stdio and exit statuses while the daemon is
// away; client.ts is the daemon's side of it; daemon/containers/adopt.ts takes a
// running container back into the daemon's tables on boot.
export { HolderClient, HolderProtocolError, type HeldFds, type HeldExit, type HeldContainer, type Adopted } from './client.js';
export { replaySpool, type SpoolStream } from './spool.js';
