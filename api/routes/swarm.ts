// Swarm endpoints. tsd is never a swarm member, so it answers them as a dockerd
// that is not part of a swarm does (moby daemon/cluster: errNoSwarm for leave,
// errNoManager for everything a manager would serve), 503 with the same texts.
// SDK cleanup paths (docker-py, testcontainers) call them and rely on the 503.
import type { FastifyInstance } from 'fastify';
import { DaemonError } from '../../errors/index.js';

export const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const NOT_IN_SWARM = 'This node is not part of a swarm';
export const NO_SWARM_MODE = 'tsd does not support swarm mode: this node cannot init or join a swarm';

const unavailable = (msg: string) => new DaemonError('unavailable', 'TSD_ERR_NO_SWARM', msg);

/** [method, path, message]: the routes of moby's swarm router. */
const ROUTES: Array<[string, string, string]> = [
  ['GET', '/swarm', NOT_A_MANAGER],
  ['GET', '/swarm/unlockkey', NOT_A_MANAGER],
  ['POST', '/swarm/init', NO_SWARM_MODE],
  ['POST', '/swarm/join', NO_SWARM_MODE],
  ['POST', '/swarm/leave', NOT_IN_SWARM],
  ['POST', '/swarm/update', NOT_A_MANAGER],
  ['POST', '/swarm/unlock', NOT_A_MANAGER],
  ['GET', '/services', NOT_A_MANAGER],
  ['GET', '/services/:id', NOT_A_MANAGER],
  ['POST', '/services/create', NOT_A_MANAGER],
  ['POST', '/services/:id/update', NOT_A_MANAGER],
  ['DELETE', '/services/:id', NOT_A_MANAGER],
  ['GET', '/services/:id/logs', NOT_A_MANAGER],
  ['GET', '/nodes', NOT_A_MANAGER],
  ['GET', '/nodes/:id', NOT_A_MANAGER],
  ['DELETE', '/nodes/:id', NOT_A_MANAGER],
  ['POST', '/nodes/:id/update', NOT_A_MANAGER],
  ['GET', '/tasks', NOT_A_MANAGER],
  ['GET', '/tasks/:id', NOT_A_MANAGER],
  ['GET', '/tasks/:id/logs', NOT_A_MANAGER],
  ['GET', '/secrets', NOT_A_MANAGER],
  ['POST', '/secrets/create', NOT_A_MANAGER],
  ['DELETE', '/secrets/:id', NOT_A_MANAGER],
  ['GET', '/secrets/:id', NOT_A_MANAGER],
  ['POST', '/secrets/:id/update', NOT_A_MANAGER],
  ['GET', '/configs', NOT_A_MANAGER],
  ['POST', '/configs/create', NOT_A_MANAGER],
  ['DELETE', '/configs/:id', NOT_A_MANAGER],
  ['GET', '/configs/:id', NOT_A_MANAGER],
  ['POST', '/configs/:id/update', NOT_A_MANAGER],
];

export default async function swarmRoutes(app: FastifyInstance): Promise<void> {
  for (const [method, url, message] of ROUTES) {
    app.route({ method: method as 'GET', url, handler: async () => { throw unavailable(message); } });
  }
  // No managed plugins: the list a dockerd without plugins gives.
  app.get('/plugins', async () => []);
}
