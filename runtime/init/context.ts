// What every init step sees: the plan, the syscalls, and what earlier steps found out.
import type { Syscalls } from '../../sys/index.js';
import type { Root } from '../../rootfs/index.js';
import type { InitPlan } from '../types.js';
import type { InitMessage, ParentMessage } from '../protocol.js';

export interface InitContext {
  plan: InitPlan;
  sys: Syscalls;
  /** fd of the protocol socket (3); marked close-on-exec before execve */
  protocolFd: number;
  /** the environment passed to execve (HOME added by the user step) */
  env: string[];
  /** protocol: send a message to the parent / block for its next one (null at EOF) */
  send: (m: InitMessage) => void;
  receive: () => ParentMessage | null;
  /** create: the rootfs by fd, from the rootfs bind to pivot_root (every mount target is resolved from it) */
  root?: Root;
  /** set by the user step */
  uid: number;
  gid: number;
}

/** A failure the init reports with a chosen exit code (126/127 for exec, as Docker). */
export class InitError extends Error {
  constructor(message: string, readonly exitCode = 128, readonly errno?: string) {
    super(message);
  }
}
