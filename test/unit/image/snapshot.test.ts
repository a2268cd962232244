import t from 'tap';
import { planRootfs } from '../../../image/index.js';

t.test('overlay plans', async (t) => {
  const p = planRootfs('/d/containers/c1', ['/d/l/aaa', '/d/l/bbb'], '/d');
  t.same(p.lowerdirs, ['/d/l/bbb', '/d/l/aaa'], 'topmost first');
  t.equal(p.mountOptions, 'lowerdir=/d/l/bbb:/d/l/aaa,upperdir=/d/containers/c1/upper,workdir=/d/containers/c1/work');
  t.equal(p.target, '/d/containers/c1/rootfs');
  t.equal(p.cwd, undefined);

  const root = '/' + 'r'.repeat(100);
  const many = Array.from({ length: 128 }, (_, i) => `${root}/l/${i.toString(16).padStart(12, '0')}`);
  const rel = planRootfs(`${root}/containers/c2`, many, root);
  t.equal(rel.cwd, root);
  t.ok(rel.mountOptions.length <= 4095);
  t.match(rel.mountOptions, /^lowerdir=l\/[0-9a-f]{12}:/);
  t.match(rel.mountOptions, /,upperdir=containers\/c2\/upper,workdir=containers\/c2\/work$/);
  t.throws(() => planRootfs(`${root}/containers/c2`, many), { code: 'TSD_ERR_MOUNT_DATA_TOO_LONG' });
  t.same(planRootfs('/d/containers/c3', [], '/d').lowerdirs, ['/d/containers/c3/empty'], 'no layers: an empty lower dir');
});
