// systemd's D-Bus API (org.freedesktop.systemd1.Manager), the few calls the systemd
// cgroup driver makes, over dbus-next: the only importer of the D-Bus client
// (eslint.config.js). One connection to the system bus per process, made on first
// use ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket, as sd-bus and
// godbus find it), subscribed to the manager's signals so a job's end is seen
// (JobRemoved), as go-systemd does for runc and dockerd.
import dbus from 'dbus-next';
import { DaemonError } from '../../errors/index.js';

const { Message, Variant } = dbus;
type DbusMessage = InstanceType<typeof Message>;

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
/** how long a start or stop job may take (runc waits 30 s too) */
const JOB_TIMEOUT_MS = 30_000;

/** One unit property as StartTransientUnit / SetUnitProperties take it: name, D-Bus signature, value. */
export interface UnitProperty { name: string; signature: string; value: unknown }

/** The calls the driver needs; tests give the manager a recorder instead. */
export interface SystemdApi {
  /** StartTransientUnit(name, "replace", props) and wait until the job is done */
  startTransientUnit(name: string, props: UnitProperty[]): Promise<void>;
  /** StopUnit(name, "replace") and wait; a unit systemd does not know is already stopped */
  stopUnit(name: string): Promise<void>;
  /** SetUnitProperties(name, runtime=true, props) */
  setUnitProperties(name: string, props: UnitProperty[]): Promise<void>;
  /** ResetFailedUnit(name), ignoring "not loaded" */
  resetFailedUnit(name: string): Promise<void>;
  /** the manager's Version property: proves the API answers */
  version(): Promise<string>;
}

const busError = (what: string, e: unknown): DaemonError =>
  new DaemonError('system', 'TSD_ERR_SYSTEMD_BUS', `systemd over D-Bus: ${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

/** The D-Bus error name of a failed call (org.freedesktop.systemd1.NoSuchUnit, ...), or ''. */
const errorName = (e: unknown): string => String((e as { type?: string })?.type ?? '');

class Bus implements SystemdApi {
  private bus: dbus.MessageBus | null = null;
  private ready: Promise<void> | null = null;
  /** jobs whose JobRemoved came (job path → result), and the waiters of jobs not done yet */
  private readonly done = new Map<string, string>();
  private readonly waiters = new Map<string, (result: string) => void>();

  private connect(): Promise<void> {
    this.ready ??= (async () => {
      const bus = dbus.systemBus();
      bus.on('error', () => { this.reset(); });
      bus.on('message', (m: DbusMessage) => {
        if (m.interface !== MANAGER || m.member !== 'JobRemoved') return;
        const [, job, , result] = m.body as [number, string, string, string];
        const w = this.waiters.get(job);
        if (w) { this.waiters.delete(job); w(result); } else this.done.set(job, result);
        if (this.done.size > 1000) this.done.clear(); // jobs nobody waits for (systemctl's, other clients')
      });
      this.bus = bus;
      await this.raw('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's',
        [`type='signal',sender='${SYSTEMD}',interface='${MANAGER}',member='JobRemoved'`]);
      await this.call('Subscribe', '', []);
    })().catch((e) => { this.reset(); throw busError('cannot reach systemd on the system bus', e); });
    return this.ready;
  }

  private reset(): void {
    try { this.bus?.disconnect(); } catch { /* closed */ }
    this.bus = null;
    this.ready = null;
  }

  private async raw(destination: string, path: string, iface: string, member: string, signature: string, body: unknown[]): Promise<DbusMessage | null> {
    if (!this.bus) throw new Error('not connected');
    return this.bus.call(new Message({ destination, path, interface: iface, member, signature, body }));
  }

  private call(member: string, signature: string, body: unknown[]): Promise<DbusMessage | null> {
    return this.raw(SYSTEMD, MANAGER_PATH, MANAGER, member, signature, body);
  }

  /** Resolves with the job's result ("done", "failed", "canceled", "timeout", ...). */
  private waitJob(job: string): Promise<string> {
    const seen = this.done.get(job);
    if (seen !== undefined) { this.done.delete(job); return Promise.resolve(seen); }
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiters.delete(job); resolve('timeout'); }, JOB_TIMEOUT_MS);
      this.waiters.set(job, (r) => { clearTimeout(timer); resolve(r); });
    });
  }

  private async job(what: string, member: string, signature: string, body: unknown[]): Promise<string> {
    await this.connect();
    let reply: DbusMessage | null;
    try {
      reply = await this.call(member, signature, body);
    } catch (e) {
      const name = errorName(e);
      throw Object.assign(busError(what, e), { dbusError: name });
    }
    return this.waitJob(String(reply?.body[0]));
  }

  async startTransientUnit(name: string, props: UnitProperty[]): Promise<void> {
    const body = [name, 'replace', props.map((p) => [p.name, new Variant(p.signature, p.value)]), []];
    const result = await this.job(`StartTransientUnit ${name}`, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', body);
    if (result !== 'done') throw busError(`StartTransientUnit ${name}`, new Error(`the start job ended "${result}"`));
  }

  async stopUnit(name: string): Promise<void> {
    let result: string;
    try {
      result = await this.job(`StopUnit ${name}`, 'StopUnit', 'ss', [name, 'replace']);
    } catch (e) {
      if ((e as { dbusError?: string }).dbusError === `${SYSTEMD}.NoSuchUnit`) return;
      throw e;
    }
    if (result !== 'done') throw busError(`StopUnit ${name}`, new Error(`the stop job ended "${result}"`));
  }

  async setUnitProperties(name: string, props: UnitProperty[]): Promise<void> {
    if (props.length === 0) return;
    await this.connect();
    try {
      await this.call('SetUnitProperties', 'sba(sv)', [name, true, props.map((p) => [p.name, new Variant(p.signature, p.value)])]);
    } catch (e) {
      throw busError(`SetUnitProperties ${name}`, e);
    }
  }

  async resetFailedUnit(name: string): Promise<void> {
    await this.connect();
    try {
      await this.call('ResetFailedUnit', 's', [name]);
    } catch (e) {
      if ([`${SYSTEMD}.NoSuchUnit`, `${SYSTEMD}.UnitNotLoaded`].includes(errorName(e))) return;
      throw busError(`ResetFailedUnit ${name}`, e);
    }
  }

  async version(): Promise<string> {
    await this.connect();
    try {
      const r = await this.raw(SYSTEMD, MANAGER_PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [MANAGER, 'Version']);
      const v = r?.body[0] as { value?: unknown } | undefined;
      return String(v?.value ?? '');
    } catch (e) {
      throw busError('reading the manager\'s Version', e);
    }
  }

  close(): void {
    this.reset();
  }
}

let shared: Bus | null = null;
/** The process's connection to systemd (made on first call). */
export function systemdBus(): SystemdApi {
  return (shared ??= new Bus());
}
/** Drop the connection (shutdown), so the event loop can end. */
export function closeSystemdBus(): void {
  shared?.close();
  shared = null;
}
