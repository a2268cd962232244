// The parent <-> init protocol, JSON lines on the init's fd 3 (a socketpair the
// launcher creates; the init marks it close-on-exec).
//
// Order:
//   0. init -> parent: {t:'ready'}            warm inits only: libraries loaded, waiting
//   1. parent -> init: {t:'plan', plan}        (one line)
//   2. init -> parent: {t:'pty', fd}           tty only: the master it opened in the container's
//                                              devpts (fd number in the init); the parent takes a
//                                              copy with pidfd_getfd and answers
//      parent -> init: {t:'pty-ack'}
//      init -> parent: {t:'step', step}        before each step: the parent's deadline for it starts
//   3. init -> parent: {t:'error', ...}        only on failure, then the init exits
//   4. execve closes fd 3: the parent reads EOF with no error = the entrypoint runs.
import type { InitPlan } from './types.js';

export const PROTOCOL_FD = 3;

export type ParentMessage = { t: 'plan'; plan: InitPlan } | { t: 'pty-ack' };
export type InitMessage =
  | { t: 'error'; step: string; message: string; errno?: string; exitCode: number }
  | { t: 'ready' }
  | { t: 'step'; step: string }
  | { t: 'pty'; fd: number };

export const encode = (m: ParentMessage | InitMessage): string => `${JSON.stringify(m)}\n`;
