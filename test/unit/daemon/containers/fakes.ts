// A ContainerService over fake ports: a real SQLite store and data root in a
// temp dir, fake image, runtime and cgroup ports that record what they are asked
// (no root, no kernel). A fake task runs until the test ends it or it is signalled;
// its cgroup operations are recorded in cgroupLog.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { openDatabase, type DB } from '../../../../store/index.js';
import { defaults } from '../../../../daemon/config.js';
import { EventBus, type DaemonEvent } from '../../../../daemon/events.js';
import { VolumeService } from '../../../../daemon/volumes.js';
import { ContainerService } from '../../../../daemon/containers/service.js';
import type { RuntimeSpec } from '../../../../runtime/index.js';
import type { ImageForContainer, ImagePort, RuntimePort, Task } from '../../../../daemon/containers/ports.js';
import { fromDockerCreate } from '../../../../api/translate/container.js';

export interface FakeTask {
  pid: number; spec: RuntimeSpec; signals: Array<string | number>;
  exit(code: number): void;
  /** the exit is seen first, the last output arrives after it (as a pipe read late under load) */
  exitThenWrite(code: number, out: string): void;
}

export interface Harness {
  svc: ContainerService;
  db: DB;
  events: DaemonEvent[];
  /** what the tasks' cgroups were asked, in order: "<id12> create", "<id12> pause", ... */
  cgroupLog: string[];
  /** the tasks launched, last last */
  tasks: FakeTask[];
  /** launches fail with this error while set */
  failLaunch: Error | null;
  /** an exec exits at once and writes this 50 ms later (a pipe read late under load); null: exec fails */
  execOutput: string | null;
  /** the exit code of an exec (0 unless set) */
  execExitCode: number;
  /** the pid of the task each exec joined, in order */
  execsInto: number[];
  create(body?: Record<string, unknown>, name?: string): Promise<string>;
  state(id: string): string;
  cleanup(): Promise<void>;
}

const IMAGE: ImageForContainer = { id: 'sha256:' + 'f'.repeat(64), runConfig: { Cmd: ['sleep', '100'], Env: ['PATH=/bin'] }, layerDirs: [] };

export function harness(): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-containers-unit-'));
  const dataRoot = path.join(dir, 'data');
  for (const d of [dataRoot, path.join(dataRoot, 'containers'), path.join(dataRoot, 'volumes')]) fs.mkdirSync(d, { recursive: true });
  const db = openDatabase(path.join(dir, 'tsd.db'));
  const bus = new EventBus();
  const events: DaemonEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const cgroupLog: string[] = [];
  const tasks: FakeTask[] = [];
  let nextPid = 1000;

  const images: ImagePort = {
    resolve: (ref) => { if (ref !== 'busybox') throw Object.assign(new Error(`No such image: ${ref}`), { kind: 'not-found' }); return IMAGE; },
    byId: (id) => (id === IMAGE.id ? IMAGE : null),
    prepareRootfs: (containerDir) => {
      const m = { target: path.join(containerDir, 'rootfs'), upperdir: path.join(containerDir, 'upper'), workdir: path.join(containerDir, 'work'), lowerdirs: [] };
      for (const d of [m.target, m.upperdir, m.workdir]) fs.mkdirSync(d, { recursive: true });
      return m;
    },
    mountRootfs: () => {},
    unmountRootfs: () => {},
  };

  const h: Harness = {
    svc: undefined as unknown as ContainerService, db, events, cgroupLog, tasks, failLaunch: null, execOutput: null, execExitCode: 0, execsInto: [],
    async create(body = {}, name) {
      const req = fromDockerCreate({ Image: 'busybox', ...body });
      return (await h.svc.create({ name, config: req.config, hostConfig: req.hostConfig, endpointsConfig: req.endpointsConfig, resources: {} })).id;
    },
    state: (id) => h.svc.get(id).state,
    async cleanup() {
      await h.svc.shutdown();
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const runtime: RuntimePort = {
    async launch(spec) {
      if (h.failLaunch) throw h.failLaunch;
      let resolve!: (r: { exitCode: number; signal: string | null }) => void;
      const exited = new Promise<{ exitCode: number; signal: string | null }>((r) => (resolve = r));
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let done = false;
      const end = (exitCode: number, signal: string | null) => {
        if (done) return;
        done = true;
        stdout.end();
        stderr.end();
        resolve({ exitCode, signal });
      };
      const ft: FakeTask = {
        pid: nextPid++, spec, signals: [], exit: (code) => end(code, null),
        exitThenWrite: (code, out) => {
          done = true;
          resolve({ exitCode: code, signal: null });
          setTimeout(() => { stdout.end(out); stderr.end(); }, 50);
        },
      };
      tasks.push(ft);
      const log = (what: string) => cgroupLog.push(`${spec.id.slice(0, 12)} ${what}`);
      if (spec.cgroup) log('create');
      const kill = (sig: NodeJS.Signals | number) => {
        ft.signals.push(sig);
        if (sig === 'SIGKILL' || sig === 9 || sig === 15 || sig === 'SIGTERM') end(sig === 15 || sig === 'SIGTERM' ? 143 : 137, null);
      };
      const task: Task = {
        pid: ft.pid, stdin: null, stdout, stderr, pty: null, exited, wait: () => exited, kill,
        pause: async () => { log('pause'); }, resume: async () => { log('resume'); },
        update: () => { log('update'); return []; },
        stats: () => { throw new Error('no stats'); }, pids: () => [], oomKilled: () => false,
        killAll: async () => { log('killAll'); },
        exec: async () => {
          if (h.execOutput === null) throw new Error('no exec in the fake runtime');
          const out = h.execOutput;
          h.execsInto.push(ft.pid);
          const [xo, xe] = [new PassThrough(), new PassThrough()];
          const xexited = Promise.resolve({ exitCode: h.execExitCode, signal: null });
          setTimeout(() => { xo.end(out); xe.end(); }, 50);
          return { pid: nextPid++, stdin: null, stdout: xo, stderr: xe, pty: null, exited: xexited, wait: () => xexited, kill: () => {} } as unknown as Awaited<ReturnType<Task['exec']>>;
        },
        delete: async () => { log('delete'); },
        cgroupName: spec.cgroup ? spec.cgroup.name : null,
      };
      return task;
    },
    async removeLeftovers(cg) { cgroupLog.push(`${cg.name.slice(0, 12)} leftovers`); },
  };

  h.svc = new ContainerService({
    db, config: { ...defaults, dataRoot, execRoot: path.join(dir, 'exec') }, events: bus, log: pino({ level: 'silent' }),
    images, runtime, network: null, volumes: new VolumeService(db, dataRoot, bus),
  });
  return h;
}

/** Polls until `cond` holds (the exit handler runs asynchronously). */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
