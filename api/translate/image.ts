// Docker JSON for images (pure): list summaries, inspect, history, delete results.
import path from 'node:path';
import type { Image, ImageRunConfig } from '../../image/index.js';

const unix = (iso: string): number => Math.floor(Date.parse(iso) / 1000) || 0;

export function toDockerContainerConfig(c: ImageRunConfig | undefined): Record<string, unknown> {
  const x = c ?? {};
  return {
    Hostname: '', Domainname: '', User: x.User ?? '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    ...(x.ExposedPorts ? { ExposedPorts: x.ExposedPorts } : {}),
    Tty: false, OpenStdin: false, StdinOnce: false,
    Env: x.Env ?? null, Cmd: x.Cmd ?? null,
    ...(x.Healthcheck ? { Healthcheck: x.Healthcheck } : {}),
    ...(x.ArgsEscaped ? { ArgsEscaped: x.ArgsEscaped } : {}),
    Image: '', Volumes: x.Volumes ?? null, WorkingDir: x.WorkingDir ?? '', Entrypoint: x.Entrypoint ?? null,
    OnBuild: x.OnBuild ?? null, Labels: x.Labels ?? null,
    ...(x.StopSignal ? { StopSignal: x.StopSignal } : {}),
    ...(x.Shell ? { Shell: x.Shell } : {}),
  };
}

export function toDockerImageSummary(img: Image, opts: { containers?: number } = {}): Record<string, unknown> {
  return {
    Containers: opts.containers ?? -1,
    Created: unix(img.created),
    Id: img.id,
    Labels: img.runConfig.Labels ?? null,
    ParentId: img.parent,
    RepoDigests: img.repoDigests.length ? img.repoDigests : img.repoTags.length ? [] : ['<none>@<none>'],
    RepoTags: img.repoTags.length ? img.repoTags : ['<none>:<none>'],
    SharedSize: -1,
    Size: img.size,
    VirtualSize: img.size,
  };
}

export function toDockerImageInspect(img: Image): Record<string, unknown> {
  const dirs = img.layerDirs;
  const top = dirs.length ? path.dirname(dirs[dirs.length - 1]!) : '';
  const graph: Record<string, string> = {};
  if (dirs.length) {
    if (dirs.length > 1) graph.LowerDir = dirs.slice(0, -1).reverse().join(':');
    graph.MergedDir = path.join(top, 'merged');
    graph.UpperDir = dirs[dirs.length - 1]!;
    graph.WorkDir = path.join(top, 'work');
  }
  const c = img.config;
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: img.parent,
    Comment: c.comment ?? (c.history?.length ? c.history[c.history.length - 1]!.comment ?? '' : ''),
    Created: c.created ?? img.created,
    Container: (c.container as string | undefined) ?? '',
    ContainerConfig: toDockerContainerConfig(c.container_config),
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: toDockerContainerConfig(c.config),
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: graph, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: c.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: img.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
}

export function toDockerHistory(h: Array<{ id: string; created: string; createdBy: string; comment: string; size: number; tags: string[] }>): Record<string, unknown>[] {
  return h.map((e) => ({ Comment: e.comment, Created: unix(e.created), CreatedBy: e.createdBy, Id: e.id, Size: e.size, Tags: e.tags.length ? e.tags : null }));
}
