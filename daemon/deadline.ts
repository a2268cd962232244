// Every teardown step that waits on something outside the daemon (a peer, a
// child process, the kernel) gets a deadline, so `rm -f` and container exit
// always finish: the step is abandoned (and logged), never awaited forever.
//
// A deadline's timer is ref'd and cleared as soon as the wait ends: a wait that
// something awaits must keep the process alive until it is over. An unref'd one
// does not: when nothing else holds the event loop (the API server closed, a
// test without a server, children and pipes that the runtime unref's), Node
// simply exits mid-wait, and the step (a stop's SIGKILL, an exit's teardown)
// never happens.

export class DeadlineError extends Error {
  constructor(readonly what: string, readonly ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Resolves or rejects as `p` does, or rejects with a DeadlineError after `ms`. `p` itself is not cancelled. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/** Resolves as `p` does, or with `fallback` after `ms` (a stop's grace period, a probe's timeout). `p` is not cancelled. */
export function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<F>((r) => { timer = setTimeout(() => r(fallback), ms); });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
