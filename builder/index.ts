// Public face of the builder: docker build's classic builder (POST /build) and
// its cache. The daemon creates one Builder over a BuildBackend it implements
// with its image and container services; the API translates requests and the
// output to Docker's JSON message stream.
import { Builder, type BuilderOptions } from './build.js';
import type { BuildBackend, BuildCacheIndex } from './types.js';

export { Builder, type BuilderOptions, scratchImage, parsePlatform } from './build.js';
export { BuildCache, type CacheRecords, type CacheImages, type CacheUsage, type PruneOptions } from './cache-store.js';
export type {
  BuildBackend, BuildCacheIndex, BuildImage, BuildOutput, BuildRequest, BuildResult, ChildConfig, ImageConfig, RunConfig, RwLayer, ImageFs,
  ProgressMessage, AuthConfigs, HistoryEntry, HealthConfig,
} from './types.js';
export { BuildError } from './types.js';

export function createBuilder(backend: BuildBackend, cache: BuildCacheIndex, opts: BuilderOptions): Builder {
  return new Builder(backend, cache, opts);
}
