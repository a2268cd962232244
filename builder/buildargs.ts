// Build arguments with Docker's scoping rules: `--build-arg` values apply only
// to ARGs the Dockerfile declares (or to the predefined proxy variables); ARGs
// before the first FROM ("meta args") are visible to FROM lines and, inside a
// stage, only after a bare `ARG NAME` re-declares them; every stage starts with
// no ARGs declared. Pure.

/** The proxy variables usable without an ARG; kept out of the cache key and history unless declared. */
export const BUILTIN_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

export class BuildArgs {
  /** ARGs declared in the current stage: name -> default (null: none) */
  private allowed = new Map<string, string | null>();
  private readonly meta = new Map<string, string | null>();
  private readonly referenced = new Set<string>();

  /** `fromOptions`: the request's buildargs (a null value means "take the default"). */
  constructor(readonly fromOptions: Readonly<Record<string, string | null>> = {}) {}

  /** A copy for a new stage: meta args and references kept, no ARG declared. */
  forStage(): BuildArgs {
    const b = new BuildArgs(this.fromOptions);
    for (const [k, v] of this.meta) b.meta.set(k, v);
    for (const k of this.referenced) b.referenced.add(k);
    return b;
  }

  mergeReferenced(other: BuildArgs): void {
    for (const k of other.referenced) this.referenced.add(k);
  }

  addArg(key: string, value: string | null): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  addMetaArg(key: string, value: string | null): void {
    this.meta.set(key, value);
  }

  /** Build args in scope that are not builtins, or builtins the Dockerfile declared. */
  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !BUILTIN_ARGS.has(key);
  }

  private value(key: string, mapping: Map<string, string | null>): string | undefined {
    // only called for declared keys and builtins
    const opt = this.fromOptions[key];
    if (opt !== undefined && opt !== null) return opt;
    const def = mapping.get(key);
    if (def === null || def === undefined) {
      const m = this.meta.get(key);
      return m === null || m === undefined ? undefined : m;
    }
    return def;
  }

  private all(mapping: Map<string, string | null>): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of [...mapping.keys(), ...BUILTIN_ARGS]) {
      const v = this.value(k, mapping);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  /** Every ARG in scope with a value (declared in this stage, or a builtin given by the request). */
  allowedValues(): Map<string, string> {
    return this.all(this.allowed);
  }

  /** The meta args (and given builtins), for FROM lines. */
  metaValues(): Map<string, string> {
    return this.all(this.meta);
  }

  /** KEY=value for the args in scope that the environment does not already set. */
  filterAllowed(env: readonly string[]): string[] {
    const set = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
    const out: string[] = [];
    for (const [k, v] of this.allowedValues()) if (!set.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  /** Docker's warning for --build-arg values no ARG consumed (null when all were). */
  unusedWarning(): string | null {
    const left = Object.keys(this.fromOptions).filter((k) => !this.referenced.has(k) && !BUILTIN_ARGS.has(k)).sort();
    return left.length ? `[Warning] One or more build-args [${left.join(' ')}] were not consumed\n` : null;
  }
}
