// The event bus: every subsystem publishes here; GET /events subscribes.
// A bounded ring of recent events serves `since` queries.
export interface DaemonEvent {
  type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder';
  action: string;
  actor: { id: string; attributes: Record<string, string> };
  /** nanoseconds since the epoch */
  timeNano: bigint;
  /** legacy fields for container/image events (status/id/from) */
  from?: string;
}

export type EventListener = (e: DaemonEvent) => void;

export class EventBus {
  private listeners = new Set<EventListener>();
  private ring: DaemonEvent[] = [];
  constructor(private readonly capacity = 1024) {}

  publish(type: DaemonEvent['type'], action: string, id: string, attributes: Record<string, string> = {}, from?: string): DaemonEvent {
    const ms = BigInt(Date.now());
    const ev: DaemonEvent = { type, action, actor: { id, attributes }, timeNano: ms * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000), from };
    this.ring.push(ev);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const l of this.listeners) {
      try { l(ev); } catch { /* a listener must not break publishing */ }
    }
    return ev;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Buffered events with since <= time (ns) <= until. */
  recent(sinceNano = 0n, untilNano?: bigint): DaemonEvent[] {
    return this.ring.filter((e) => e.timeNano >= sinceNano && (untilNano === undefined || e.timeNano <= untilNano));
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** A container event's attributes as dockerd sets them: its labels, image and name, then `extra`. */
export function containerEventAttrs(c: { name: string; config: { Image: string; Labels?: Record<string, string> | null } }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(c.config.Labels ?? {}), image: c.config.Image, name: c.name, ...extra };
}
