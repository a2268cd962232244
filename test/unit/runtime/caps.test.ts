import t from 'tap';
import { resolveCaps, DEFAULT_CAPS } from '../../../runtime/index.js';
import { capMask, capNumber } from '../../../runtime/caps.js';

const mask = (names: string[]) => capMask(names.map(capNumber)).toString(16).padStart(16, '0');

t.test('Docker default set is CapEff 00000000a80425fb', async (t) => {
  t.equal(mask(resolveCaps([], [], false, 40)), '00000000a80425fb');
  t.same(resolveCaps([], [], false, 40).length, DEFAULT_CAPS.length);
});

t.test('add/drop with or without CAP_, ALL, privileged', async (t) => {
  t.ok(resolveCaps(['net_admin'], [], false, 40).includes('CAP_NET_ADMIN'));
  t.ok(resolveCaps(['CAP_SYS_ADMIN'], [], false, 40).includes('CAP_SYS_ADMIN'));
  t.notOk(resolveCaps([], ['chown', 'CAP_KILL'], false, 40).some((c) => c === 'CAP_CHOWN' || c === 'CAP_KILL'));
  t.same(resolveCaps([], ['ALL'], false, 40), []);
  t.same(resolveCaps(['NET_RAW'], ['all'], false, 40), ['CAP_NET_RAW']);
  t.equal(resolveCaps(['ALL'], ['MKNOD'], false, 40).length, 40);
  t.equal(resolveCaps([], [], true, 40).length, 41);
  t.equal(resolveCaps([], [], true, 37).length, 38, 'only what the kernel knows');
  t.throws(() => resolveCaps(['BOGUS'], [], false, 40), { kind: 'invalid-parameter', message: 'invalid capability: CAP_BOGUS' });
});
