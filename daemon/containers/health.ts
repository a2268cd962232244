// Healthchecks: run the image's or container's HEALTHCHECK as an exec on its
// interval, keep the last 5 results, and publish health_status events.
import type { Logger } from 'pino';
import type { EventBus } from '../events.js';
import type { ContainerService } from './service.js';
import type { HealthState, RuntimeState } from './types.js';

const NS = 1e6; // Docker durations are nanoseconds; timers are ms
const DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, retries: 3 };

export class HealthMonitor {
  private timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly containers: ContainerService, private readonly events: EventBus, private readonly log: Logger) {}

  start(id: string): void {
    this.stop(id);
    const c = this.containers.get(id);
    const hc = c.config.Healthcheck;
    if (!hc?.Test?.length || hc.Test[0] === 'NONE') return;
    const interval = hc.Interval ? hc.Interval / NS : DEFAULTS.interval;
    const startedAt = Date.now();
    this.setHealth(id, { Status: 'starting', FailingStreak: 0, Log: [] });
    const tick = async () => {
      this.timers.delete(id);
      const cur = this.containers.tryGet(id);
      if (!cur || cur.state !== 'running') return;
      await this.probe(id, startedAt).catch((err) => this.log.debug({ err, ctr: id }, 'health probe failed'));
      if (this.containers.tryGet(id)?.state === 'running' || this.containers.tryGet(id)?.state === 'paused') {
        this.timers.set(id, setTimeout(tick, interval).unref());
      }
    };
    this.timers.set(id, setTimeout(tick, Math.min(interval, hc.StartInterval ? hc.StartInterval / NS : interval)).unref());
  }

  private setHealth(id: string, h: HealthState): void {
    const c = this.containers.tryGet(id);
    if (!c) return;
    this.containers.store.update(id, { runtime: { ...c.runtime, health: h } as RuntimeState });
  }

  private async probe(id: string, startedAt: number): Promise<void> {
    const c = this.containers.get(id);
    const hc = c.config.Healthcheck!;
    const test = hc.Test!;
    const cmd = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : test;
    const timeout = hc.Timeout ? hc.Timeout / NS : DEFAULTS.timeout;
    const retries = hc.Retries || DEFAULTS.retries;
    const start = new Date();
    let exitCode = -1;
    let output = '';
    try {
      const execId = this.containers.execs.create(c, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const { session, hub } = await this.containers.execs.start(execId, {});
      const chunks: Buffer[] = [];
      hub.attach({
        write: (_s, b) => { chunks.push(b); return true; },
        writableLength: 0,
        closed: false,
        close: () => {},
        onClose: () => {},
      }, { stdout: true, stderr: true });
      const finished = await Promise.race([session.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeout).unref())]);
      if (!finished) {
        session.task?.kill('SIGKILL');
        output = `Health check exceeded timeout (${timeout / 1000}s)`;
      } else {
        exitCode = session.exitCode ?? -1;
        output = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
      }
    } catch (e) {
      output = (e as Error).message;
    }
    const cur = this.containers.tryGet(id);
    if (!cur) return;
    const prev = cur.runtime.health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const log = [...prev.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output }].slice(-5);
    let status = prev.Status;
    let streak = prev.FailingStreak;
    const inStartPeriod = Date.now() - startedAt < (hc.StartPeriod ? hc.StartPeriod / NS : DEFAULTS.startPeriod);
    if (exitCode === 0) {
      status = 'healthy';
      streak = 0;
    } else if (!inStartPeriod) {
      streak++;
      if (streak >= retries) status = 'unhealthy';
    }
    this.setHealth(id, { Status: status, FailingStreak: streak, Log: log });
    if (status !== prev.Status) {
      this.events.publish('container', `health_status: ${status}`, id, this.containers.eventAttrs(cur), cur.config.Image);
    }
  }

  stop(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  stopAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
