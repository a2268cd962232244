export { openDatabase, migrate, type DB } from './db.js';
export { migrations, type Migration } from './migrations/index.js';
// One module per entity: data access only, no policy.
export { ContainerStore, type ContainerRow, type ContainerView } from './containers.js';
export { ImageStore } from './images.js';
export { LayerStore, type LayerRow } from './layers.js';
export { VolumeStore, type VolumeRow } from './volumes.js';
export { createNetworkStore, type NetworkStore, type NetworkRecord, type EndpointRecord } from './networks.js';
export { BuildCacheStore, type BuildCacheRow } from './build-cache.js';
