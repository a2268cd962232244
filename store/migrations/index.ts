// Numbered schema migrations, applied in order in one transaction at boot.
// A migration never changes once it has shipped; add a new one instead.
export interface Migration { version: number; name: string; sql: string }

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
CREATE TABLE images (
  id            TEXT PRIMARY KEY,              -- sha256:<config digest>
  config        TEXT NOT NULL,                 -- the image config JSON, verbatim
  manifest      TEXT,                          -- the manifest JSON it was pulled/loaded with
  created       TEXT NOT NULL,
  size          INTEGER NOT NULL DEFAULT 0,
  parent        TEXT NOT NULL DEFAULT '',
  added_at      INTEGER NOT NULL
);
CREATE TABLE image_tags (
  ref       TEXT PRIMARY KEY,                  -- docker.io/library/busybox:latest
  image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE TABLE image_digests (
  ref       TEXT PRIMARY KEY,                  -- docker.io/library/busybox@sha256:...
  image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE TABLE layers (
  chain_id  TEXT PRIMARY KEY,
  diff_id   TEXT NOT NULL,
  parent    TEXT REFERENCES layers(chain_id),
  size      INTEGER NOT NULL DEFAULT 0,
  blob_digest TEXT,                            -- compressed digest it came from, if known
  created_at INTEGER NOT NULL
);
CREATE TABLE image_layers (
  image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  chain_id  TEXT NOT NULL REFERENCES layers(chain_id),
  PRIMARY KEY (image_id, idx)
);
CREATE TABLE containers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  image_id    TEXT NOT NULL,
  image_ref   TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  state       TEXT NOT NULL,                   -- created|running|paused|restarting|exited|dead|removing
  pid         INTEGER NOT NULL DEFAULT 0,
  pid_start   TEXT NOT NULL DEFAULT '',        -- /proc/<pid>/stat start time, to re-adopt after restart
  exit_code   INTEGER NOT NULL DEFAULT 0,
  oom_killed  INTEGER NOT NULL DEFAULT 0,
  error       TEXT NOT NULL DEFAULT '',
  started_at  TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
  finished_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
  restart_count INTEGER NOT NULL DEFAULT 0,
  config      TEXT NOT NULL,                   -- our container config (JSON)
  host_config TEXT NOT NULL,                   -- our host config (JSON)
  runtime     TEXT NOT NULL DEFAULT '{}'       -- network settings, paths (JSON)
);
CREATE INDEX containers_state ON containers(state);
CREATE TABLE networks (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  driver    TEXT NOT NULL,
  subnet    TEXT NOT NULL DEFAULT '',
  gateway   TEXT NOT NULL DEFAULT '',
  bridge    TEXT NOT NULL DEFAULT '',
  internal  INTEGER NOT NULL DEFAULT 0,
  options   TEXT NOT NULL DEFAULT '{}',
  labels    TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE TABLE endpoints (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network_id   TEXT NOT NULL REFERENCES networks(id),
  endpoint_id  TEXT NOT NULL,
  ip           TEXT NOT NULL DEFAULT '',
  mac          TEXT NOT NULL DEFAULT '',
  aliases      TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (container_id, network_id)
);
CREATE TABLE volumes (
  name       TEXT PRIMARY KEY,
  driver     TEXT NOT NULL DEFAULT 'local',
  labels     TEXT NOT NULL DEFAULT '{}',
  options    TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'netctl-endpoint-details',
    sql: `
ALTER TABLE endpoints ADD COLUMN hostname TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN ifname   TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN ports    TEXT NOT NULL DEFAULT '[]';  -- published ports (JSON)
CREATE TABLE net_hosts_files (                  -- each container's /etc/hosts, rewritten when peers change
  container_id TEXT PRIMARY KEY,
  path         TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'build-cache',
    sql: `
CREATE TABLE build_cache (                      -- which image a build step produced, by what the step depended on
  key          TEXT PRIMARY KEY,                -- sha256 of the parent image, the step's run config, the platform
  parent_id    TEXT NOT NULL,                   -- '' for scratch
  image_id     TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  description  TEXT NOT NULL DEFAULT '',        -- the step's Cmd, as its history entry shows it
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  usage_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX build_cache_image ON build_cache(image_id);
`,
  },
  {
    version: 4,
    name: 'container-layer',
    sql: `
-- the top layer of the image a container was made from: the layer store keeps it and its parents while the
-- container exists, whatever becomes of the image (as dockerd's RWLayer holds its parent chain); the foreign
-- key makes SQLite refuse to delete a layer row a container still holds
ALTER TABLE containers ADD COLUMN layer TEXT REFERENCES layers(chain_id);
UPDATE containers SET layer = (SELECT il.chain_id FROM image_layers il WHERE il.image_id = containers.image_id ORDER BY il.idx DESC LIMIT 1);
CREATE INDEX containers_layer ON containers(layer);
CREATE INDEX layers_parent ON layers(parent);
CREATE INDEX image_layers_chain ON image_layers(chain_id);
`,
  },
];
