// `-v` / HostConfig.Binds strings, parsed as dockerd's linux parser does:
//   /ctr                 an anonymous volume
//   src:/ctr             a bind (absolute src) or a named volume
//   src:/ctr:mode        with ro|rw, propagation, and accepted no-op flags (z, Z, nocopy, ...)
// A lone "dest:mode" is refused ("volumes cannot include a mode"), as Docker does.
import { invalidParameter } from '../../errors/index.js';

export interface BindSpec {
  /** '' for an anonymous volume */
  source: string;
  destination: string;
  readonly: boolean;
  kind: 'bind' | 'volume';
  propagation: string;
  mode: string;
}

const PROPAGATION = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const NOOP = ['z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated'];
const isMode = (m: string): boolean => m.split(',').every((o) => o === 'ro' || o === 'rw' || PROPAGATION.includes(o) || NOOP.includes(o));
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function parseBind(spec: string): BindSpec {
  const bad = (why?: string) => invalidParameter(`invalid volume specification: '${spec}'${why ? `: ${why}` : ''}`);
  const parts = spec.split(':');
  let source = '', destination = '', mode = '';
  if (parts.length === 1) destination = parts[0]!;
  else if (parts.length === 2) {
    if (isMode(parts[1]!)) throw bad();
    [source, destination] = parts as [string, string];
  } else if (parts.length === 3) [source, destination, mode] = parts as [string, string, string];
  else throw bad();
  if (!destination) throw bad();
  if (!destination.startsWith('/')) throw bad(`invalid mount config for type "${source.startsWith('/') ? 'bind' : 'volume'}": invalid mount path: '${destination}' mount path must be absolute`);
  if (destination === '/') throw bad(`invalid mount config for type "bind": invalid specification: destination can't be '/'`);
  if (mode && !isMode(mode)) throw invalidParameter(`invalid mode: ${mode}`);
  const opts = mode ? mode.split(',') : [];
  if (source && !source.startsWith('/') && !NAME_RE.test(source)) {
    throw invalidParameter(`create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  const bind = source.startsWith('/');
  return {
    source,
    destination,
    readonly: opts.includes('ro'),
    kind: bind ? 'bind' : 'volume',
    propagation: opts.find((o) => PROPAGATION.includes(o)) ?? (bind ? 'rprivate' : ''),
    mode,
  };
}
