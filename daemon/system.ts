// Host and daemon facts for /info, /version and /system/df.
import fs from 'node:fs';
import os from 'node:os';
import type { DB } from '../store/index.js';
import type { DaemonConfig } from './config.js';
import { isUp, type ContainerState } from './containers/state.js';

export interface HostFacts {
  id: string;
  name: string;
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  cgroupVersion: '1' | '2';
  cgroupDriver: 'cgroupfs' | 'systemd';
  storageDriver: 'overlay2';
  swapLimit: boolean;
  memoryLimit: boolean;
  pidsLimit: boolean;
}

export interface ContainerCounts { total: number; running: number; paused: number; stopped: number }

function osRelease(): { pretty: string; version: string } {
  try {
    const txt = fs.readFileSync('/etc/os-release', 'utf8');
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?`, 'm').exec(txt)?.[1] ?? '';
    return { pretty: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { pretty: 'Linux', version: '' };
  }
}

export function detectCgroupVersion(root = '/sys/fs/cgroup'): '1' | '2' {
  return fs.existsSync(`${root}/cgroup.controllers`) ? '2' : '1';
}

const dockerArch = (a: string): string => ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[a] ?? a;

export class SystemService {
  readonly facts: HostFacts;
  readonly startedAt = new Date();

  constructor(private readonly db: DB, readonly config: DaemonConfig, daemonId: string, cgroupVersion = detectCgroupVersion()) {
    const rel = osRelease();
    this.facts = {
      id: daemonId,
      name: os.hostname(),
      kernelVersion: os.release(),
      operatingSystem: rel.pretty,
      osVersion: rel.version,
      architecture: dockerArch(process.arch),
      ncpu: os.availableParallelism(),
      memTotal: os.totalmem(),
      cgroupVersion,
      cgroupDriver: config.cgroupDriver ?? 'cgroupfs',
      storageDriver: 'overlay2',
      swapLimit: cgroupVersion === '2' || fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      memoryLimit: true,
      pidsLimit: true,
    };
  }

  containerCounts(): ContainerCounts {
    const rows = this.db.prepare('SELECT state, count(*) AS n FROM containers GROUP BY state').all() as Array<{ state: string; n: number }>;
    const c: ContainerCounts = { total: 0, running: 0, paused: 0, stopped: 0 };
    for (const r of rows) {
      c.total += r.n;
      const s = r.state as ContainerState;
      if (s === 'paused') c.paused += r.n;
      else if (isUp(s)) c.running += r.n;
      else c.stopped += r.n;
    }
    return c;
  }

  imageCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
  }

  /** GET /system/df, from the store (sizes as recorded when layers were unpacked). */
  df(): Record<string, unknown> {
    const layersSize = (this.db.prepare('SELECT coalesce(sum(size), 0) AS n FROM layers').get() as { n: number }).n;
    // as docker images without -a: untagged images other images were built on (build steps) are not listed
    const images = this.db.prepare(`SELECT id, created, size, parent, config FROM images i WHERE EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id)
      OR EXISTS (SELECT 1 FROM image_digests d WHERE d.image_id = i.id) OR NOT EXISTS (SELECT 1 FROM images c WHERE c.parent = i.id)`).all() as Array<{ id: string; created: string; size: number; parent: string; config: string }>;
    const tagsOf = this.db.prepare('SELECT ref FROM image_tags WHERE image_id = ?');
    const digestsOf = this.db.prepare('SELECT ref FROM image_digests WHERE image_id = ?');
    const usedBy = this.db.prepare('SELECT count(*) AS n FROM containers WHERE image_id = ?');
    const shortRef = (r: string) => r.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
    const containers = this.db.prepare('SELECT id, name, image_ref, image_id, created_at, state FROM containers ORDER BY created_at DESC').all() as Array<Record<string, string>>;
    const volumes = this.db.prepare('SELECT name, driver, labels, created_at FROM volumes').all() as Array<Record<string, string>>;
    return {
      LayersSize: layersSize,
      Images: images.map((i) => ({
        Id: i.id,
        ParentId: i.parent,
        RepoTags: (tagsOf.all(i.id) as Array<{ ref: string }>).map((r) => shortRef(r.ref)),
        RepoDigests: (digestsOf.all(i.id) as Array<{ ref: string }>).map((r) => shortRef(r.ref)),
        Created: Math.floor(Date.parse(i.created) / 1000) || 0,
        Size: i.size,
        SharedSize: -1,
        VirtualSize: i.size,
        Labels: (JSON.parse(i.config) as { config?: { Labels?: Record<string, string> } }).config?.Labels ?? null,
        Containers: (usedBy.get(i.id) as { n: number }).n,
      })),
      Containers: containers.map((c) => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.image_ref,
        ImageID: c.image_id,
        Created: Math.floor(Date.parse(c.created_at) / 1000),
        State: c.state,
        SizeRw: 0,
        SizeRootFs: 0,
      })),
      Volumes: volumes.map((v) => ({
        Name: v.name,
        Driver: v.driver,
        Mountpoint: `${this.config.dataRoot}/volumes/${v.name}/_data`,
        Labels: JSON.parse(v.labels),
        Scope: 'local',
        CreatedAt: v.created_at,
        UsageData: { Size: -1, RefCount: 0 },
      })),
      BuildCache: [],
      BuilderSize: 0,
    };
  }
}
