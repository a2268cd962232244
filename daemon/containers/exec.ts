// Exec sessions: docker exec create/start/inspect/resize. Kept in memory (as
// dockerd does); they die with their container.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { NoSuchContainerError, conflict, invalidParameter, notFound } from '../../errors/index.js';
import { containerEventAttrs, type EventBus } from '../events.js';
import { StdioHub } from '../stdio.js';
import type { ExecSpec } from '../../runtime/index.js';
import type { ContainerLookup, Process } from './ports.js';
import type { ContainerView } from './types.js';
import { canExec } from './state.js';
import { mergeEnv, withPath } from './plan.js';
import { within } from '../deadline.js';

/** How long an exited exec's output may take to reach the end of its pipes (as the container's exit). */
const EXEC_OUTPUT_DRAIN_MS = 2_000;

/** Random bytes for exec ids, 64 ids' worth drawn at a time (a healthcheck probe makes one per probe). */
let idBytes = Buffer.alloc(0);
let idOffset = 0;
function newExecId(): string {
  if (idOffset + 32 > idBytes.length) {
    idBytes = crypto.randomBytes(32 * 64);
    idOffset = 0;
  }
  idOffset += 32;
  return idBytes.toString('hex', idOffset - 32, idOffset);
}

export interface ExecConfig {
  Cmd: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecSession {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  task: Process | null;
  hub: StdioHub | null;
  started: boolean;
  done: Promise<void>;
  resolveDone: () => void;
  /** Resolves once exitCode is recorded (before the output streams are ended). */
  exited: Promise<void>;
  resolveExited: () => void;
}

export class ExecManager {
  private sessions = new Map<string, ExecSession>();

  constructor(private readonly containers: ContainerLookup, private readonly events: EventBus, private readonly log: Logger) {}

  create(c: Pick<ContainerView, 'id' | 'name' | 'config'>, config: ExecConfig): string {
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) throw invalidParameter('No exec command specified');
    const id = newExecId();
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    let resolveExited!: () => void;
    const exited = new Promise<void>((r) => (resolveExited = r));
    this.sessions.set(id, { id, containerId: c.id, config, running: false, exitCode: null, pid: 0, task: null, hub: null, started: false, done, resolveDone, exited, resolveExited });
    this.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, c.id, containerEventAttrs(c, { execID: id }), c.config.Image);
    return id;
  }

  get(id: string): ExecSession {
    const s = this.sessions.get(id);
    if (!s) throw notFound(`No such exec instance: ${id}`, 'TSD_ERR_NO_SUCH_EXEC');
    return s;
  }

  /** Drops a session (a healthcheck probe's, once its result is read). */
  forget(id: string): void {
    this.sessions.delete(id);
  }

  /** How many sessions are kept for a container, ended ones included (they stay inspectable by id). */
  keptOf(containerId: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.containerId === containerId) n++;
    return n;
  }

  /** inspect's ExecIDs: the container's execs not yet ended (created or running). As in dockerd, an exec
   *  leaves its container's list when it exits, and stays inspectable by its id (GET /exec/{id}/json). */
  idsOf(containerId: string): string[] {
    return [...this.sessions.values()].filter((s) => s.containerId === containerId && s.exitCode === null).map((s) => s.id);
  }

  /**
   * Starts the process. The hub is returned so the caller can attach the
   * client's connection; output flows once the caller has attached.
   */
  async start(id: string, opts: { tty?: boolean; detach?: boolean; mergeOutput?: boolean; view?: ContainerView }): Promise<{ session: ExecSession; hub: StdioHub }> {
    const s = this.get(id);
    if (s.started) throw conflict(`Error: Exec command ${id} has already run`);
    // read only here: the row's shared parse (store view()), not a fresh copy of every column; `view`: the
    // caller read it in this same synchronous run (a healthcheck's tick), so it is what reading again would give
    const c = opts.view?.id === s.containerId ? opts.view : this.containers.view(s.containerId);
    if (!c) throw new NoSuchContainerError(s.containerId);
    const main = this.containers.task(c.id);
    canExec(c, !!main);
    const spec = execSpec(c, s.config);
    if (opts.tty !== undefined && !s.config.Tty) spec.tty = s.config.Tty ?? false;
    // a reader of both streams as one (a healthcheck probe): one socket for both, written as stdout
    if (opts.mergeOutput && !spec.tty) spec.mergeOutput = true;
    s.started = true;
    const hub = new StdioHub({ tty: spec.tty, openStdin: !!s.config.AttachStdin, closeStdinOnEof: true, log: null });
    s.hub = hub;
    let task: Process;
    try {
      task = await main!.exec(spec);
    } catch (e) {
      s.exitCode = (e as { exitCode?: number }).exitCode ?? 126;
      s.running = false;
      s.resolveExited();
      void hub.finishOutput();
      s.resolveDone();
      throw e;
    }
    s.task = task;
    s.pid = task.pid;
    s.running = true;
    this.events.publish('container', `exec_start: ${s.config.Cmd.join(' ')}`, c.id, containerEventAttrs(c, { execID: id }), c.config.Image);
    if (task.pty) hub.setOutput(task.pty.stream, null);
    else hub.setOutput(task.stdout, task.stderr);
    hub.setStdin(task.pty ? task.pty.stream : task.stdin);
    void task.exited.then(async (r) => {
      // Record the exit before the stream ends: the CLI inspects the exec as
      // soon as its attach connection closes and takes ExitCode from there.
      s.exitCode = r.exitCode;
      s.running = false;
      s.task = null;
      s.resolveExited();
      // the exit is often seen before the last output is read from the pipes (a short exec lost it
      // now and then: compose's `exec -T web sh -c 'echo …'` printed nothing): wait for them to end
      await hub.drainOutput(EXEC_OUTPUT_DRAIN_MS).catch(() => {});
      this.events.publish('container', 'exec_die', c.id, containerEventAttrs(c, { execID: id, exitCode: String(r.exitCode) }), c.config.Image);
      s.resolveDone();
    }).catch((err) => this.log.warn({ err }, 'exec exit handling failed'));
    return { session: s, hub };
  }

  resize(id: string, rows: number, cols: number): void {
    const s = this.get(id);
    if (!s.task) throw conflict(`cannot resize a stopped container: unknown`);
    s.task.pty?.resize(rows, cols);
  }

  /** The container's PID 1 exited: its execs died with it. Forget them after a grace period. */
  async containerStopped(containerId: string): Promise<void> {
    const mine = [...this.sessions.values()].filter((s) => s.containerId === containerId);
    await within(Promise.all(mine.map((s) => (s.started ? s.done : Promise.resolve()))), 2000, undefined);
    setTimeout(() => { for (const s of mine) this.sessions.delete(s.id); }, 60_000).unref();
  }
}

/** The spec an exec runs with: the container's security profile, the exec's own process settings (the task adds its cgroup). */
export function execSpec(c: Pick<ContainerView, 'config' | 'hostConfig'>, e: ExecConfig): Omit<ExecSpec, 'cgroupProcs'> {
  // the container's lists are copied: a view's are shared and frozen (store view())
  return {
    args: e.Cmd,
    env: withPath(mergeEnv(c.config.Env, e.Env ?? []), c.config.Hostname, !!e.Tty),
    cwd: e.WorkingDir || c.config.WorkingDir || '/',
    user: e.User || c.config.User,
    groupAdd: [...(c.hostConfig.GroupAdd ?? [])],
    tty: !!e.Tty,
    openStdin: !!e.AttachStdin,
    privileged: c.hostConfig.Privileged || !!e.Privileged,
    capAdd: [...(c.hostConfig.CapAdd ?? [])],
    capDrop: [...(c.hostConfig.CapDrop ?? [])],
    securityOpt: [...(c.hostConfig.SecurityOpt ?? [])],
    consoleSize: e.ConsoleSize && e.ConsoleSize[0] ? [e.ConsoleSize[0], e.ConsoleSize[1]] : undefined,
    // moby runs an exec with the container's process spec, OOMScoreAdj included
    oomScoreAdj: c.hostConfig.OomScoreAdj ?? 0,
  };
}
