// Prometheus metrics (GET /metrics on the API socket, and on TCP with
// --metrics-addr), with prom-client. Nothing in the lifecycle code counts:
// the metrics listen to what the daemon already says — the event bus
// (start, die with its exit code, oom), diagnostics channels
// (tsd:container:start with each start's duration, tsd:image:pull with the
// bytes downloaded), the API's response hook — and read the state and the
// cgroups when scraped (containers by state, per-container CPU, memory, pids,
// network).
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import client from 'prom-client';
import type { EventBus } from '../events.js';
import type { CgroupStats } from '../../cgroupfs/index.js';

export interface MetricsDeps {
  events: EventBus;
  /** every container row: id, name, image, state, pid */
  containers(): Array<{ id: string; name: string; image: string; state: string; pid: number }>;
  /** the cgroup figures of a running container (null when it has no cgroup now) */
  cgroupStats(id: string): CgroupStats | null;
  procRoot?: string;
}

export interface Metrics {
  readonly registry: client.Registry;
  readonly contentType: string;
  /** the API's response hook: one request, its route pattern, method, status and duration */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  render(): Promise<string>;
  close(): void;
}

/** The event-loop delay histogram's sampling period: one wakeup of an idle daemon per period. */
export const EVENT_LOOP_SAMPLE_MS = 1000;

const STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];

/** /proc/<pid>/net/dev → bytes per interface (loopback left out). */
export function parseNetDev(text: string): Record<string, { rx: number; tx: number }> {
  const out: Record<string, { rx: number; tx: number }> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rx: f[0] ?? 0, tx: f[8] ?? 0 };
  }
  return out;
}

export function createMetrics(d: MetricsDeps): Metrics {
  const registry = new client.Registry();
  // The event-loop delay histogram (tsd_nodejs_eventloop_lag_{min,max,mean,p50,...}) samples with a libuv
  // timer of this period, which runs whether or not anything scrapes: at 20 ms it woke an idle daemon
  // 50 times a second. Once a second is enough for a figure scraped every 15 s or so (the histogram is
  // reset at each scrape); tsd_nodejs_eventloop_lag_seconds itself is measured at the scrape.
  client.collectDefaultMetrics({ register: registry, prefix: 'tsd_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const procRoot = d.procRoot ?? '/proc';

  new client.Gauge({
    name: 'tsd_containers', help: 'Containers by state', labelNames: ['state'], registers: [registry],
    collect() {
      const counts = new Map(STATES.map((s) => [s, 0]));
      for (const c of d.containers()) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
      this.reset();
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  const starts = new client.Counter({ name: 'tsd_container_starts_total', help: 'Container starts (docker start, run, restarts by policy)', registers: [registry] });
  const startLatency = new client.Histogram({
    name: 'tsd_container_start_duration_seconds', help: 'From the start request to the entrypoint exec\'d: rootfs, cgroup, network, init',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const exits = new client.Counter({ name: 'tsd_container_exits_total', help: 'Container exits by exit code', labelNames: ['code'], registers: [registry] });
  const ooms = new client.Counter({ name: 'tsd_container_oom_kills_total', help: 'Containers whose exit was an OOM kill', registers: [registry] });
  const pulls = new client.Counter({ name: 'tsd_image_pulls_total', help: 'Image pulls completed', registers: [registry] });
  const pullBytes = new client.Counter({ name: 'tsd_image_pull_bytes_total', help: 'Layer bytes downloaded by pulls (compressed, as the registry sent them)', registers: [registry] });
  const requests = new client.Counter({ name: 'tsd_api_requests_total', help: 'API requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const requestLatency = new client.Histogram({
    name: 'tsd_api_request_duration_seconds', help: 'API request duration (hijacked streams excluded) by route and method', labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  });

  // Per container, read from the cgroup and the netns when scraped.
  const labels = ['id', 'name', 'image'];
  const cpu = new client.Counter({ name: 'tsd_container_cpu_seconds_total', help: 'CPU time used by the container\'s cgroup', labelNames: labels, registers: [registry] });
  const mem = new client.Gauge({ name: 'tsd_container_memory_bytes', help: 'Memory charged to the container\'s cgroup', labelNames: labels, registers: [registry] });
  const memLimit = new client.Gauge({ name: 'tsd_container_memory_limit_bytes', help: 'The container\'s memory limit (absent when unlimited)', labelNames: labels, registers: [registry] });
  const pids = new client.Gauge({ name: 'tsd_container_pids', help: 'Tasks in the container\'s cgroup', labelNames: labels, registers: [registry] });
  const rx = new client.Counter({ name: 'tsd_container_network_receive_bytes_total', help: 'Bytes received on the container\'s interfaces', labelNames: [...labels, 'interface'], registers: [registry] });
  const tx = new client.Counter({ name: 'tsd_container_network_transmit_bytes_total', help: 'Bytes sent on the container\'s interfaces', labelNames: [...labels, 'interface'], registers: [registry] });
  const cgOoms = new client.Gauge({ name: 'tsd_container_cgroup_oom_kills', help: 'Tasks the kernel OOM-killed in the container\'s cgroup (memory.oom_control / memory.events oom_kill)', labelNames: labels, registers: [registry] });
  const stalled = new client.Counter({
    name: 'tsd_container_pressure_stalled_seconds_total', help: 'Time tasks of the container stalled on a resource (PSI, cgroup v2: <resource>.pressure total)',
    labelNames: [...labels, 'resource', 'kind'], registers: [registry],
  });
  const sample = () => {
    for (const m of [cpu, mem, memLimit, pids, rx, tx, cgOoms, stalled]) m.reset();
    for (const c of d.containers()) {
      if (c.state !== 'running' && c.state !== 'paused') continue;
      const l = { id: c.id, name: c.name.replace(/^\//, ''), image: c.image };
      let s: CgroupStats | null = null;
      try { s = d.cgroupStats(c.id); } catch { /* gone meanwhile */ }
      if (s) {
        cpu.inc(l, s.cpu.usageNs / 1e9);
        mem.set(l, s.memory.usage);
        if (s.memory.limit !== null && s.memory.limit !== undefined) memLimit.set(l, s.memory.limit);
        pids.set(l, s.pids.current);
        cgOoms.set(l, s.oomKills);
        for (const [resource, p] of Object.entries(s.pressure ?? {})) {
          if (!p) continue;
          stalled.inc({ ...l, resource, kind: 'some' }, p.some.total / 1e6);
          if (p.full) stalled.inc({ ...l, resource, kind: 'full' }, p.full.total / 1e6);
        }
      }
      if (c.pid > 0) {
        let text = '';
        try { text = fs.readFileSync(`${procRoot}/${c.pid}/net/dev`, 'utf8'); } catch { continue; }
        for (const [iface, b] of Object.entries(parseNetDev(text))) {
          rx.inc({ ...l, interface: iface }, b.rx);
          tx.inc({ ...l, interface: iface }, b.tx);
        }
      }
    }
  };

  const off = d.events.subscribe((e) => {
    if (e.type === 'container') {
      if (e.action === 'start') starts.inc();
      else if (e.action === 'die') exits.inc({ code: e.actor.attributes.exitCode ?? 'unknown' });
      else if (e.action === 'oom') ooms.inc();
    }
  });
  const onStart = (m: unknown) => startLatency.observe((m as { seconds: number }).seconds);
  const onPull = (m: unknown) => { pulls.inc(); pullBytes.inc((m as { bytes: number }).bytes); };
  diagnostics.subscribe('tsd:container:start', onStart);
  diagnostics.subscribe('tsd:image:pull', onPull);

  return {
    registry,
    contentType: registry.contentType,
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      requestLatency.observe({ route, method }, seconds);
    },
    async render() {
      sample();
      // prom-client spells a NaN sample "Nan" (the event-loop histogram between two scrapes less than a
      // sampling period apart has no samples); the exposition format's spelling is "NaN"
      return (await registry.metrics()).replace(/ Nan$/gm, ' NaN');
    },
    close() {
      off();
      diagnostics.unsubscribe('tsd:container:start', onStart);
      diagnostics.unsubscribe('tsd:image:pull', onPull);
      registry.clear();
    },
  };
}
