// Public face of the image subsystem.
import { ImageService, type ImageServiceOptions, type EventSink, type PreparedPush } from './service.js';

export { ImageService, type ImageServiceOptions, type EventSink, type PreparedPush };
export type {
  Image, ImageConfigJson, ImageRunConfig, HistoryEntry, LayerInfo, RootfsPlan, ProgressEvent, ProgressFn, RegistryAuth, Change,
  ContainerUsage, DeleteResult, ListOptions, CommitOptions, PreparedPull,
} from './types.js';
export {
  parseReference, parseNormalized, withDefaultTag, familiarName, familiarString, familiarize, referenceString, fullName, looksLikeId,
  type Reference,
} from './reference.js';
export { RegistryClient, RegistryError, decodeRegistryAuth, isInsecure, parseChallenge, MEDIA } from './registry/client.js';
export { selectManifest, parsePlatform, hostPlatform, type Platform, type Descriptor } from './platform.js';
export { applyLayer, cleanEntryName, whiteoutOf, xattrAllowed, HostileLayerError, type ApplyOptions } from './unpack.js';
export { packStream, type TarWriter, type TarHeader } from './tar-pack.js';
export { HashStream, DigestMismatchError, chainIds, sha256 } from './digest.js';
export { packDir, packTree, changes, applyChanges } from './archive.js';
export { planRootfs, MOUNT_DATA_MAX } from './snapshot.js';
export { EMPTY_LAYER_DIFF_ID, type ChildImage } from './build-ops.js';

/** The factory the daemon uses. */
export function createImageService(opts: ImageServiceOptions): ImageService {
  return new ImageService(opts);
}
