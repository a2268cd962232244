export const FREEZE = 'cgroup.freeze';
export const EVENTS = 'cgroup.events';
export const KILL = 'cgroup.kill';
