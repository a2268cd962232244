import t from 'tap';
import { DEFAULT_ALLOWED_DEVICES, formatDeviceRule, parseDeviceRule } from '../../../cgroupfs/index.js';

t.test('device rules parse and format like devices.allow lines', async (t) => {
  t.same(parseDeviceRule('c 1:3 mr'), { allow: true, type: 'c', major: 1, minor: 3, access: 'mr' });
  t.same(parseDeviceRule('b *:* m'), { allow: true, type: 'b', major: -1, minor: -1, access: 'm' });
  t.equal(parseDeviceRule('c 1:3 rr'), null, 'duplicate access letters');
  t.equal(parseDeviceRule('x 1:3 r'), null);
  t.equal(parseDeviceRule('c 1 r'), null);
  t.equal(formatDeviceRule({ allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }), 'c 136:* rwm');
  t.equal(formatDeviceRule({ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }), 'a');
  t.ok(DEFAULT_ALLOWED_DEVICES.some((r) => formatDeviceRule(r) === 'c 1:3 rwm'), '/dev/null allowed by default');
});
