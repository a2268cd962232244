// Every error code tsd throws: code → kind (hence the HTTP status, api/errors.ts)
// → what it means. A DaemonError takes a code from this table (the type checker
// refuses any other string), and test/unit/errors/codes.test.ts checks that every
// code here is thrown somewhere and every code thrown is here. The message a
// client sees is the error's own (Docker's wording, with the names involved);
// `means` is the code's documentation.
//
// `kind` is the kind the code is thrown with. A few codes take their kind from
// the case (a registry's answer, whether the kernel refused a value or failed):
// those list every kind they may carry, the usual one first.
/** The few kinds of error tsd knows; api/errors.ts maps each to an HTTP status. */
export type ErrorKind =
  | 'not-found'
  | 'invalid-parameter'
  | 'conflict'
  | 'not-modified'
  | 'forbidden'
  | 'unauthorized'
  | 'unavailable'
  | 'not-implemented'
  | 'system';

interface Entry { kind: ErrorKind | readonly ErrorKind[]; means: string }

export const CODES = {
  // one per kind: what the helpers throw when no more precise code applies
  TSD_ERR_NOT_FOUND: { kind: 'not-found', means: 'the named object does not exist' },
  TSD_ERR_INVALID_PARAMETER: { kind: 'invalid-parameter', means: 'the request is malformed or asks for something impossible' },
  TSD_ERR_CONFLICT: { kind: 'conflict', means: 'the object is in a state that forbids the operation' },
  TSD_ERR_NOT_IMPLEMENTED: { kind: 'not-implemented', means: 'tsd does not do this (yet)' },
  TSD_ERR_SYSTEM: { kind: 'system', means: 'tsd or the host failed; not the caller\'s fault' },
  TSD_ERR_UNAUTHORIZED: { kind: 'unauthorized', means: 'credentials are missing or refused' },
  TSD_ERR_UNAVAILABLE: { kind: 'unavailable', means: 'a resource is exhausted or a service is not there' },
  TSD_ERR_FORBIDDEN: { kind: 'forbidden', means: 'the operation is not allowed on this object' },

  // containers
  TSD_ERR_NO_SUCH_CONTAINER: { kind: ['not-found', 'invalid-parameter'], means: 'no container has this name, id or id prefix (invalid-parameter when a create option names it: a 404 would make the CLI pull)' },
  TSD_ERR_AMBIGUOUS_PREFIX: { kind: 'invalid-parameter', means: 'an id prefix matches more than one object' },
  TSD_ERR_NAME_CONFLICT: { kind: 'conflict', means: 'the container name is taken' },
  TSD_ERR_NOT_RUNNING: { kind: 'conflict', means: 'the container has no running task' },
  TSD_ERR_BAD_TRANSITION: { kind: 'system', means: 'a container state change the transition table lacks (a bug)' },
  TSD_ERR_NO_COMMAND: { kind: 'invalid-parameter', means: 'neither the request nor the image gives a command' },
  TSD_ERR_NO_SUCH_EXEC: { kind: 'not-found', means: 'no exec session has this id' },
  TSD_ERR_NO_SUCH_PATH: { kind: 'not-found', means: 'docker cp: the path does not exist in the container' },
  TSD_ERR_READONLY: { kind: 'invalid-parameter', means: 'docker cp into a container whose rootfs is read-only' },
  TSD_ERR_LOGS_NOT_SUPPORTED: { kind: 'not-implemented', means: 'the log driver does not support reading' },
  TSD_ERR_NO_SUCH_VOLUME: { kind: 'not-found', means: 'no volume has this name' },
  TSD_ERR_CGROUPNS_HOST: { kind: 'invalid-parameter', means: 'CgroupnsMode host: every tsd container gets a private cgroup namespace' },
  TSD_ERR_STORAGE_OPT: { kind: 'invalid-parameter', means: 'HostConfig.StorageOpt: overlay over xfs with pquota only (moby overlay2), refused here' },
  TSD_ERR_DEVICE_REQUEST: { kind: 'invalid-parameter', means: 'HostConfig.DeviceRequests (--gpus): no device driver takes it; the start fails' },
  TSD_ERR_VOLUME_NAME_TOO_LONG: { kind: 'invalid-parameter', means: 'a volume name longer than a file name may be' },

  // runtime
  TSD_ERR_RUNTIME_START: { kind: 'system', means: 'the init failed before execve (exit code 128)' },
  TSD_ERR_EXEC_NOT_FOUND: { kind: 'invalid-parameter', means: 'the command was not found (exit code 127)' },
  TSD_ERR_EXEC_PERMISSION: { kind: 'invalid-parameter', means: 'the command could not be executed (exit code 126)' },
  TSD_ERR_INVALID_CAPABILITY: { kind: 'invalid-parameter', means: 'an unknown capability name' },
  TSD_ERR_INVALID_SECCOMP: { kind: 'invalid-parameter', means: 'a seccomp profile that does not parse' },
  TSD_ERR_NO_CGROUP: { kind: 'not-implemented', means: 'a cgroup operation on a task launched without a cgroup' },
  TSD_ERR_SYSCTL: { kind: ['system', 'invalid-parameter'], means: 'a sysctl tsd may not set in this container (runc\'s refusal at start, a 500 as dockerd) or a malformed name' },
  TSD_ERR_SYSCALL: { kind: 'system', means: 'a system call failed (the error carries errno)' },

  // cgroups
  TSD_ERR_CGROUP_WRITE: { kind: ['system', 'invalid-parameter'], means: 'a cgroup file could not be written (invalid-parameter when the kernel refused the value)' },
  TSD_ERR_CGROUP_UNSUPPORTED: { kind: 'not-implemented', means: 'the host lacks the controller or file a setting needs' },
  TSD_ERR_CGROUP_CREATE: { kind: 'system', means: 'a cgroup directory could not be made' },
  TSD_ERR_CGROUP_REMOVE: { kind: 'system', means: 'a cgroup directory could not be removed' },
  TSD_ERR_CGROUP_TIMEOUT: { kind: 'system', means: 'a cgroup did not empty or freeze in time' },
  TSD_ERR_CGROUP_KILL: { kind: 'system', means: 'processes survived killing a cgroup' },
  TSD_ERR_CGROUP_MODE: { kind: 'system', means: 'an unknown cgroup mode' },
  TSD_ERR_CGROUP_DEVICES: { kind: 'system', means: 'the eBPF device filter of a v2 cgroup could not be loaded or attached' },
  TSD_ERR_SYSTEMD_BUS: { kind: 'system', means: 'a call to systemd over D-Bus failed (the systemd cgroup driver: a scope not started, stopped or changed)' },
  TSD_ERR_CGROUP_SLICE: { kind: 'invalid-parameter', means: 'under the systemd cgroup driver a cgroup parent must be a slice name ("xxx.slice")' },

  // container filesystems (rootfs/, fd-relative)
  TSD_ERR_BAD_NAME: { kind: 'invalid-parameter', means: 'a file name with a slash or NUL, or empty' },
  TSD_ERR_SYMLINK_LOOP: { kind: 'invalid-parameter', means: 'a path that follows more than 255 symbolic links' },
  TSD_ERR_PATH_TOO_DEEP: { kind: 'invalid-parameter', means: 'a path of more than 255 components' },
  TSD_ERR_IN_PROCFS: { kind: 'invalid-parameter', means: 'a directory to make on procfs or sysfs inside a container' },
  TSD_ERR_NOT_REGULAR: { kind: 'invalid-parameter', means: 'a file the daemon reads (e.g. /etc/passwd) that is not a regular file' },
  TSD_ERR_FILE_TOO_LARGE: { kind: 'invalid-parameter', means: 'a file the daemon reads from a container over its size bound' },

  // images
  TSD_ERR_NO_SUCH_IMAGE: { kind: 'not-found', means: 'no image has this reference or id' },
  TSD_ERR_INVALID_REFERENCE: { kind: 'invalid-parameter', means: 'an image reference that does not parse' },
  TSD_ERR_INVALID_PLATFORM: { kind: 'invalid-parameter', means: 'a platform string that does not parse' },
  TSD_ERR_NO_MATCHING_MANIFEST: { kind: 'not-found', means: 'the image has no manifest for the platform' },
  TSD_ERR_INVALID_DIGEST: { kind: ['invalid-parameter', 'system'], means: 'a digest that is not sha256:<64 hex> (system when a registry sent it)' },
  TSD_ERR_DIGEST_MISMATCH: { kind: 'system', means: 'content does not match its digest' },
  TSD_ERR_SIZE_MISMATCH: { kind: 'system', means: 'content is larger than its descriptor says' },
  TSD_ERR_BAD_MANIFEST: { kind: ['system', 'invalid-parameter'], means: 'a manifest or descriptor that is inconsistent (invalid-parameter in an archive the client sent)' },
  TSD_ERR_TOO_LARGE: { kind: ['system', 'invalid-parameter'], means: 'a manifest, config or blob over its size limit' },
  TSD_ERR_PULL_CANCELLED: { kind: 'system', means: 'a pull stopped because its last client went away' },
  TSD_ERR_UNSUPPORTED_MANIFEST: { kind: 'not-implemented', means: 'a manifest media type tsd does not read' },
  TSD_ERR_REGISTRY: { kind: ['system', 'not-found', 'unauthorized'], means: 'a registry refused or failed a request (the kind follows its answer)' },
  TSD_ERR_HOSTILE_LAYER: { kind: 'invalid-parameter', means: 'a layer or archive entry that would escape its root, or is otherwise refused' },
  TSD_ERR_LAYER_MISSING: { kind: 'system', means: 'an image refers to a layer that is not stored' },
  TSD_ERR_ZSTD_UNSUPPORTED: { kind: 'not-implemented', means: 'a zstd layer on a Node.js without zstd' },
  TSD_ERR_MOUNT_DATA_TOO_LONG: { kind: 'system', means: 'overlay mount options longer than a page' },
  TSD_ERR_MOUNT: { kind: 'system', means: 'the overlay mount failed' },

  // builds
  TSD_ERR_BUILD_FAILED: { kind: ['invalid-parameter', 'system', 'not-found', 'unauthorized'], means: 'docker build failed before or between steps (the kind follows the cause)' },
  TSD_ERR_BUILD_STEP_FAILED: { kind: ['invalid-parameter', 'system'], means: 'a RUN step exited non-zero (its exit status is the error line\'s code)' },

  // networks
  TSD_ERR_NO_SUCH_NETWORK: { kind: 'not-found', means: 'no network has this name or id' },
  TSD_ERR_NO_SUCH_DRIVER: { kind: 'not-found', means: 'a network driver other than bridge' },
  TSD_ERR_NETWORK_EXISTS: { kind: 'conflict', means: 'the network name is taken' },
  TSD_ERR_BRIDGE_IN_USE: { kind: 'conflict', means: 'the bridge name is used by another network' },
  TSD_ERR_NETWORK_IN_USE: { kind: 'forbidden', means: 'the network has endpoints' },
  TSD_ERR_PREDEFINED_NETWORK: { kind: 'forbidden', means: 'bridge, host and none cannot be removed' },
  TSD_ERR_NOT_BRIDGE: { kind: 'forbidden', means: 'connect or disconnect on the host or none network' },
  TSD_ERR_ENDPOINT_EXISTS: { kind: 'forbidden', means: 'the container is already on the network' },
  TSD_ERR_POOL_OVERLAP: { kind: 'forbidden', means: 'the subnet overlaps another network' },
  TSD_ERR_NO_POOL: { kind: 'unavailable', means: 'no free subnet in the default pools' },
  TSD_ERR_IPAM_EXHAUSTED: { kind: 'unavailable', means: 'no free address in the subnet' },
  TSD_ERR_PORT_ALLOCATED: { kind: 'conflict', means: 'the host port is taken' },

  // system
  TSD_ERR_NO_SWARM: { kind: 'unavailable', means: 'tsd is never part of a swarm' },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof CODES;

/** The kinds a code may be thrown with. */
export function kindsOf(code: ErrorCode): readonly ErrorKind[] {
  const k = CODES[code].kind;
  return typeof k === 'string' ? [k] : k;
}
