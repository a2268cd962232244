// cgroup v2 device policy: no controller files, an eBPF program attached to the
// cgroup instead (BPF_CGROUP_DEVICE). The rule list is the one v1 writes
// (deny all, Docker's defaults, the container's rules), compiled by ebpf.ts;
// attaching replaces what was there (BPF_F_REPLACE where the kernel has it, else
// attach then detach the old one, as runc does), so `update` never leaves a gap.
import fs from 'node:fs';
import { DaemonError } from '../../errors/index.js';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE, BPF_PROG_TYPE_CGROUP_DEVICE,
  bpfHasProgReplace, bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgLoad, bpfProgQuery,
} from '../../sys/index.js';
import { DEFAULT_ALLOWED_DEVICES } from '../devices.js';
import { DeviceEmulator } from '../device-emulator.js';
import type { DeviceFilter, DeviceRule, Resources } from '../types.js';
import { LICENSE, deviceFilterProgram, encode } from './ebpf.js';

const DENY_ALL: DeviceRule = { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' };

/** The full rule list a container's cgroup enforces, in order (the same list v1 writes). */
export function effectiveRules(devices: readonly DeviceRule[]): DeviceRule[] {
  return [DENY_ALL, ...DEFAULT_ALLOWED_DEVICES, ...devices];
}

/**
 * The encoded program for `res.devices`: undefined = leave the cgroup's policy as
 * it is (no device rules in this update), null = no filter (every device allowed,
 * e.g. privileged). Pure; throws invalid-parameter for rules v1 would not take.
 */
export function program(res: Resources): Buffer | null | undefined {
  if (res.devices === undefined) return undefined;
  const emu = DeviceEmulator.from(effectiveRules(res.devices));
  return emu.isAllowAll() ? null : encode(deviceFilterProgram(emu));
}

const errnoOf = (e: unknown): string | undefined => (e as { errnoCode?: string }).errnoCode ?? (e as NodeJS.ErrnoException).code;

function filterError(what: string, dir: string, e: unknown): DaemonError {
  return new DaemonError('system', 'TSD_ERR_CGROUP_DEVICES', `cannot ${what} the device filter of cgroup ${dir}: ${(e as Error).message}`, { cause: e });
}

function withDir<T>(dir: string, what: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw filterError(what, dir, e);
  }
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fds of the device programs attached at the cgroup; programs we may not open (LSM) are skipped, as runc does. */
function attachedFds(fd: number): number[] {
  const fds: number[] = [];
  try {
    for (const id of bpfProgQuery(fd, BPF_CGROUP_DEVICE)) {
      try {
        fds.push(bpfProgGetFdById(id));
      } catch (e) {
        const code = errnoOf(e);
        if (code === 'EPERM' || code === 'EACCES' || code === 'ENOENT') continue;
        throw e;
      }
    }
  } catch (e) {
    for (const f of fds) fs.closeSync(f);
    throw e;
  }
  return fds;
}

function replaceSupported(progFd: number): boolean {
  const devnull = fs.openSync('/dev/null', 'r');
  try {
    return bpfHasProgReplace(progFd, devnull);
  } finally {
    fs.closeSync(devnull);
  }
}

/** The kernel's way: bpf(2) on the cgroup directory. */
export const bpfDeviceFilter: DeviceFilter = {
  set(dir, prog) {
    withDir(dir, 'set', (fd) => {
      let old: number[] = [];
      try {
        old = attachedFds(fd);
        if (prog === null) {
          for (const o of old) bpfProgDetach(fd, o, BPF_CGROUP_DEVICE);
          return;
        }
        const p = bpfProgLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns: prog, license: LICENSE, name: 'tsd_devices' });
        try {
          const replace = old.length === 1 && replaceSupported(p);
          bpfProgAttach(fd, p, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | (replace ? BPF_F_REPLACE : 0), replace ? old[0] : undefined);
          if (!replace) for (const o of old) bpfProgDetach(fd, o, BPF_CGROUP_DEVICE);
        } finally {
          // attached, the cgroup holds the program; our fd is not needed either way
          fs.closeSync(p);
        }
      } catch (e) {
        if (e instanceof DaemonError && e.code === 'TSD_ERR_CGROUP_DEVICES') throw e;
        throw filterError('set', dir, e);
      } finally {
        for (const o of old) fs.closeSync(o);
      }
    });
  },
  attached(dir) {
    return withDir(dir, 'read', (fd) => {
      try {
        return bpfProgQuery(fd, BPF_CGROUP_DEVICE);
      } catch (e) {
        throw filterError('read', dir, e);
      }
    });
  },
  clear(dir) {
    this.set(dir, null);
  },
};
