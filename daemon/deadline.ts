// Every teardown step that waits on something outside the daemon (a peer, a
// child process, the kernel) gets a deadline, so `rm -f` and container exit
// always finish: the step is abandoned (and logged), never awaited forever.

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
    timer.unref();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
