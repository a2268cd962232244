// Concurrency control for the controller: network-wide operations (init,
// create, remove, prune, reconcile, shutdown) are exclusive; attach/detach of
// different containers run concurrently (their IP reservation is a synchronous
// transaction), serialized per container (lib/ KeyedLock).

type Waiter = { write: boolean; resolve: () => void };

/** A FIFO readers-writer lock: a queued writer holds back later readers. */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waiters: Waiter[] = [];

  read<T>(fn: () => Promise<T>): Promise<T> {
    return this.with(false, fn);
  }

  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.with(true, fn);
  }

  private async with<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiters.push({ write, resolve });
      this.pump();
    });
    try {
      return await fn();
    } finally {
      if (write) this.writer = false;
      else this.readers--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (w.write) {
        if (this.writer || this.readers > 0) return;
        this.waiters.shift();
        this.writer = true;
        w.resolve();
        return;
      }
      if (this.writer) return;
      this.waiters.shift();
      this.readers++;
      w.resolve();
    }
  }
}
