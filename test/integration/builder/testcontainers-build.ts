// testcontainers-node's GenericContainer.fromDockerfile against the engine in
// DOCKER_HOST, run as its own process (testcontainers picks its runtime once):
// a build with build args, then the container started with a log wait; one
// "ok"/"FAIL" line per check.
import { GenericContainer, Wait } from 'testcontainers';

const ctx = process.argv[2]!;
let failures = 0;
const check = (cond: boolean, what: string) => {
  process.stdout.write(`${cond ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!cond) failures++;
};

async function main(): Promise<void> {
  const image = await GenericContainer.fromDockerfile(ctx).withBuildArgs({ GREETING: 'from testcontainers' }).build(`tsd-tc-build:${process.pid}`, { deleteOnExit: false });
  check(true, 'fromDockerfile().build() resolved');
  const c = await image.withWaitStrategy(Wait.forLogMessage(/ready/)).start();
  try {
    check(true, 'the built image started and logged ready');
    const r = await c.exec(['cat', '/greeting']);
    check(r.output === 'from testcontainers\n', `the build arg reached the RUN: ${JSON.stringify(r.output)}`);
  } finally {
    await c.stop();
  }
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => { process.stdout.write(`FAIL threw: ${(e as Error).stack ?? e}\n`); process.exit(1); },
);
