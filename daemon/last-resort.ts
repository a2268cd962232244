// The daemon's last resort: an exception or a rejection nobody handled is a bug,
// but one request's bug must not take every container's manager with it. It is
// logged with its stack, the request it belongs to (when the async context says
// so) is failed, and the daemon keeps serving. Every stream's error should be
// owned by its request long before this point; this is the net under that rule.

interface Log { error(o: unknown, m?: string): void }

/** The request an error belongs to, as the API knows it. */
export interface OwnerLookup {
  (): { what: string; fail(err: unknown): void } | undefined;
}

export function installLastResort(log: Log, owner: OwnerLookup): () => void {
  const onError = (origin: string) => (err: unknown): void => {
    let req: ReturnType<OwnerLookup>;
    try { req = owner(); } catch { req = undefined; }
    const e = err instanceof Error ? err : new Error(String(err));
    log.error({ err: e, origin, request: req?.what ?? null }, req
      ? `unhandled error in ${req.what}: failing that request, serving on`
      : 'unhandled error outside any request: serving on');
    try { req?.fail(e); } catch { /* the connection is gone already */ }
  };
  const onException = onError('uncaughtException');
  const onRejection = onError('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
