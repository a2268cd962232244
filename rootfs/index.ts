// Public face of rootfs/: a container's filesystem reached only through file
// descriptors (openat2 RESOLVE_IN_ROOT from a root fd, then *at calls).
export { Root, Dir, inRoot, errnoOf, readAll, type ReadResult, type FileStat, type FileType } from './root.js';
export { walk, walkSync, type WalkEntry, type WalkOptions } from './walk.js';
export { copyTree, copyOwnership } from './copy.js';
export { removeTree } from './remove.js';
