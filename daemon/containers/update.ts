// docker rename and docker update (live resources, restart policy), under the lock.
import { conflict, invalidParameter } from '../../errors/index.js';
import { publish, type ContainerContext } from './context.js';
import type { Resources } from './ports.js';
import { resourcesOf } from './plan.js';
import type { Container, HostConfig, RuntimeState } from './types.js';

type UpdateContext = Pick<ContainerContext, 'store' | 'events' | 'live'>;

export function rename(ctx: UpdateContext, c: Container, newName: string): void {
  const name = newName.replace(/^\//, '');
  if (!name) throw invalidParameter('Neither old nor new names may be empty');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw invalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (name === c.name) throw invalidParameter(`Renaming a container with the same name as its current name`);
  const clash = ctx.store.byName(name);
  if (clash) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  ctx.store.update(c.id, { name });
  publish(ctx, { ...c, name }, 'rename', { oldName: `/${c.name}` });
}

/** Live resource update (the running task's cgroup, then the record); returns warnings. */
export function update(ctx: UpdateContext, c: Container, resources: Resources, restartPolicy?: HostConfig['RestartPolicy'], hostFields: Partial<HostConfig> = {}): string[] {
  if (restartPolicy && restartPolicy.Name && c.hostConfig.AutoRemove && restartPolicy.Name !== 'no') {
    throw invalidParameter('Restart policy cannot be updated because AutoRemove is enabled for the container');
  }
  const live = ctx.live.get(c.id);
  if (live) live.task.update(resources);
  const merged = { ...resourcesOf(c), ...resources };
  const hostConfig = { ...c.hostConfig, ...hostFields, ...(restartPolicy && restartPolicy.Name !== undefined ? { RestartPolicy: restartPolicy } : {}) };
  ctx.store.update(c.id, { hostConfig, runtime: { ...c.runtime, resources: merged } as RuntimeState });
  publish(ctx, c, 'update');
  return [];
}
