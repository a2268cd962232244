// The v1 devices cgroup replayed as data (runc devices_emulator_test.go cases).
import t from 'tap';
import { formatDeviceRule } from '../../../cgroupfs/index.js';
import { DeviceEmulator } from '../../../cgroupfs/device-emulator.js';
import type { DeviceRule } from '../../../cgroupfs/index.js';

const r = (allow: boolean, type: DeviceRule['type'], major: number, minor: number, access = 'rwm'): DeviceRule => ({ allow, type, major, minor, access });
const lines = (e: DeviceEmulator) => e.rules().map((x) => `${x.allow ? 'allow' : 'deny'} ${formatDeviceRule(x)}`);

t.test('allow list: permissions merge, removal subtracts, order is (major, minor, type)', async (t) => {
  const e = DeviceEmulator.from([
    r(false, 'a', -1, -1), r(true, 'c', 10, 200, 'r'), r(true, 'c', 10, 200, 'w'), r(true, 'b', 8, 0), r(true, 'c', 1, 3),
    r(false, 'b', 8, 0, 'w'), r(true, 'c', -1, -1, 'm'),
  ]);
  t.notOk(e.defaultAllow);
  t.same(lines(e), ['allow c *:* m', 'allow c 1:3 rwm', 'allow b 8:0 rm', 'allow c 10:200 rw']);
});

t.test('allow a resets to a deny list; deny a back to an allow list', async (t) => {
  const e = DeviceEmulator.from([r(true, 'c', 1, 3), r(true, 'a', -1, -1)]);
  t.ok(e.isAllowAll());
  t.same(lines(e), ['allow a']);
  e.apply(r(false, 'b', 8, 0, 'rw'));
  t.same(lines(e), ['allow a', 'deny b 8:0 rw']);
  t.notOk(e.isAllowAll());
  e.apply(r(false, 'a', -1, -1));
  t.same(lines(e), []);
});

t.test('a hole in a wildcard is refused (v1 would ignore it silently)', async (t) => {
  const e = DeviceEmulator.from([r(false, 'a', -1, -1), r(true, 'c', -1, -1, 'm'), r(true, 'c', 4, -1, 'rw')]);
  t.throws(() => e.apply(r(false, 'c', 1, 3, 'm')), { message: /cannot be denied: it punches a hole in the wildcard rule "c \*:\* m"/ });
  t.throws(() => e.apply(r(false, 'c', 4, 1, 'r')), { message: /"c 4:\* rw"/ });
  e.apply(r(false, 'c', 5, 0, 'w'));
  t.same(lines(e), ['allow c *:* m', 'allow c 4:* rw'], 'no overlap in access: fine, and a no-op');
  e.apply(r(false, 'b', 8, 0, 'm'));
  t.same(lines(e), ['allow c *:* m', 'allow c 4:* rw'], 'another type does not overlap');
});

t.test('bad access letters are refused', async (t) => {
  t.throws(() => DeviceEmulator.from([r(true, 'c', 1, 3, 'x')]), { kind: 'invalid-parameter', message: /invalid device access/ });
});
