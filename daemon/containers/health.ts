// Healthchecks: run the image's or container's HEALTHCHECK as an exec on its
// interval, keep the last 5 results, and publish health_status events. The
// result is written by the container service under the container's lock
// (`record`), so the row has one writer at a time.
import type { Logger } from 'pino';
import { containerEventAttrs, type EventBus } from '../events.js';
import type { ExecManager } from './exec.js';
import type { ContainerLookup } from './ports.js';
import type { ContainerView, HealthState } from './types.js';
import type { ContainerState } from './state.js';
import { keepsHealthTimer, probesHealth } from './state.js';
import { within } from '../deadline.js';

/**
 * Writes the next health state of a container, computed from its current state and health,
 * under its lock; resolves to the state it saw (null: the container is gone).
 */
export type HealthRecorder = (id: string, next: (cur: { state: ContainerState; health: HealthState | undefined }) => HealthState) => Promise<ContainerState | null>;

const NS = 1e6; // Docker durations are nanoseconds; timers are ms
const DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, startInterval: 5_000, retries: 3 };

export class HealthMonitor {
  private timers = new Map<string, NodeJS.Timeout>();
  /** each container's current schedule: a probe of an earlier one (a restart while it ran) does not arm a timer again */
  private schedules = new Map<string, { status: HealthState['Status'] }>();

  constructor(
    private readonly containers: ContainerLookup,
    private readonly execs: ExecManager,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly record: HealthRecorder,
  ) {}

  /** The health a container starts with (the caller writes it with the 'running' state). */
  static readonly initial: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };

  /** Schedules the probes of a container that just started with HealthMonitor.initial as its health. */
  start(id: string): void {
    this.stop(id);
    const c = this.containers.view(id);
    const hc = c?.config.Healthcheck;
    if (!hc?.Test?.length || hc.Test[0] === 'NONE') return;
    const interval = hc.Interval ? hc.Interval / NS : DEFAULTS.interval;
    const startInterval = hc.StartInterval ? hc.StartInterval / NS : DEFAULTS.startInterval;
    const startPeriod = hc.StartPeriod ? hc.StartPeriod / NS : DEFAULTS.startPeriod;
    const startedAt = Date.now();
    const schedule: { status: HealthState['Status'] } = { status: HealthMonitor.initial.Status };
    // dockerd's monitor: StartInterval between probes while the container is still 'starting' within its
    // start period, Interval otherwise (and always once the start period is over)
    const nextDelay = (): number => {
      if (Date.now() - startedAt >= startPeriod) return interval;
      return schedule.status === 'starting' ? startInterval : interval;
    };
    this.schedules.set(id, schedule);
    const tick = async () => {
      this.timers.delete(id);
      if (this.schedules.get(id) !== schedule) return;
      // one read of the row per probe (its parsed config shared, store view()); the recorder reads the state again under the lock
      const cur = this.containers.view(id);
      if (!cur || !keepsHealthTimer(cur.state)) return;
      let state: ContainerState | null = cur.state;
      // paused: no probe, the timer goes on (dockerd's monitor starts again at the unpause)
      if (probesHealth(cur.state)) state = await this.probe(cur, startedAt, schedule).catch((err) => { this.log.debug({ err, ctr: id }, 'health probe failed'); return this.containers.view(id)?.state ?? null; });
      if (state && keepsHealthTimer(state) && this.schedules.get(id) === schedule) {
        this.timers.set(id, setTimeout(tick, nextDelay()).unref());
      }
    };
    this.timers.set(id, setTimeout(tick, nextDelay()).unref());
  }

  /** Runs one probe and records its result; resolves to the state the recorder saw. */
  private async probe(c: ContainerView, startedAt: number, schedule: { status: HealthState['Status'] }): Promise<ContainerState | null> {
    const id = c.id;
    const hc = c.config.Healthcheck!;
    const test = hc.Test!;
    const cmd = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : [...test];
    const timeout = hc.Timeout ? hc.Timeout / NS : DEFAULTS.timeout;
    const retries = hc.Retries || DEFAULTS.retries;
    const start = new Date();
    let exitCode = -1;
    let output = '';
    let execId: string | null = null;
    try {
      execId = this.execs.create(c, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
      // stdout and stderr go to one buffer (as dockerd's limitedBuffer): one socket carries both, in the order written
      // `c`: read by the tick that called this, with no await between (the same row as a read now)
      const { session, hub } = await this.execs.start(execId, { mergeOutput: true, view: c });
      const chunks: Buffer[] = [];
      hub.attach({
        write: (_s, b) => { chunks.push(b); return true; },
        writableLength: 0,
        closed: false,
        close: () => {},
        onClose: () => {},
      }, { stdout: true, stderr: true });
      const finished = await within(session.done.then(() => true), timeout, false);
      if (!finished) {
        session.task?.kill('SIGKILL');
        output = `Health check exceeded timeout (${timeout / 1000}s)`;
      } else {
        exitCode = session.exitCode ?? -1;
        output = chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8').slice(0, 4096);
      }
    } catch (e) {
      output = (e as Error).message;
    } finally {
      // a probe's exec is not kept once its result is read (inspect's ExecIDs would grow by one per probe)
      if (execId) this.execs.forget(execId);
    }
    const end = new Date();
    // as dockerd: a failure does not count while the container has never been healthy ('starting') and the
    // probe began within the start period; once healthy, every failure counts
    const inStartPeriod = start.getTime() - startedAt < (hc.StartPeriod ? hc.StartPeriod / NS : DEFAULTS.startPeriod);
    return this.record(id, (cur) => {
      const prev = cur.health ?? HealthMonitor.initial;
      const log = prev.Log.length >= 5 ? prev.Log.slice(prev.Log.length - 4) : prev.Log.slice();
      log.push({ Start: start.toISOString(), End: end.toISOString(), ExitCode: exitCode, Output: output });
      let status = prev.Status;
      let streak = prev.FailingStreak;
      if (exitCode === 0) {
        status = 'healthy';
        streak = 0;
      } else if (!(inStartPeriod && prev.Status === 'starting')) {
        streak++;
        if (streak >= retries) status = 'unhealthy';
      }
      if (status !== prev.Status) {
        // the row as it is now (a rename during the probe shows in the event)
        const now = this.containers.view(id) ?? c;
        this.events.publish('container', `health_status: ${status}`, id, containerEventAttrs(now), now.config.Image);
      }
      schedule.status = status;
      return { Status: status, FailingStreak: streak, Log: log };
    });
  }

  stop(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.schedules.delete(id);
  }

  stopAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.schedules.clear();
  }
}
