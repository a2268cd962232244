import t from 'tap';
import { resolveUser } from '../../../runtime/index.js';
import { PASSWD, GROUP } from '../../fixtures/busybox.js';

t.test('Docker User strings against passwd/group', async (t) => {
  t.same(resolveUser('', [], PASSWD, GROUP), { uid: 0, gid: 0, groups: [0, 10], home: '/root' });
  t.same(resolveUser('user', [], PASSWD, GROUP), { uid: 1000, gid: 1000, groups: [1000, 10, 29], home: '/home/user' });
  t.same(resolveUser('1000:1000', [], PASSWD, GROUP), { uid: 1000, gid: 1000, groups: [1000], home: '/home/user' });
  t.same(resolveUser('user:audio', ['wheel', '777'], PASSWD, GROUP), { uid: 1000, gid: 29, groups: [29, 10, 777], home: '/home/user' });
  t.same(resolveUser('4242', [], PASSWD, GROUP), { uid: 4242, gid: 0, groups: [0], home: '/' });
  t.same(resolveUser('4242:99', [], null, null), { uid: 4242, gid: 99, groups: [99], home: '/' });
  t.throws(() => resolveUser('bob', [], PASSWD, GROUP), { message: 'unable to find user bob: no matching entries in passwd file' });
  t.throws(() => resolveUser('user:nope', [], PASSWD, GROUP), { message: 'unable to find group nope: no matching entries in group file' });
  t.throws(() => resolveUser('root', ['nope'], PASSWD, GROUP), { message: /Unable to find group nope/ });
});
