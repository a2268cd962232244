// resolveRef: exact id, then name, then a unique prefix; the ambiguity error is the caller's policy.
import t from 'tap';
import { AMBIGUOUS_PREFIX, resolveRef, type RefLookups } from '../../../lib/index.js';
import { notFound } from '../../../errors/index.js';

const ids = ['abc123', 'abd456', 'ff00'];
const names: Record<string, string> = { web: 'abd456', ff: 'abc123' };
const lookups: RefLookups = {
  byId: (r) => (ids.includes(r) ? r : null),
  byName: (r) => names[r] ?? null,
  idsByPrefix: (p) => ids.filter((i) => i.startsWith(p)),
};
const policy = { ambiguous: AMBIGUOUS_PREFIX };

t.test('order: id, then name, then unique prefix', async (t) => {
  t.equal(resolveRef('ff00', lookups, policy), 'ff00', 'an exact id');
  t.equal(resolveRef('web', lookups, policy), 'abd456', 'a name');
  t.equal(resolveRef('ff', lookups, policy), 'abc123', 'a name wins over an id prefix (moby)');
  t.equal(resolveRef('abc', lookups, policy), 'abc123', 'a unique prefix');
  t.equal(resolveRef('zz', lookups, policy), null, 'nothing');
  t.equal(resolveRef('AB', lookups, policy), null, 'not hex: no prefix lookup');
});

t.test('an ambiguous prefix: the policy says what it is', async (t) => {
  t.throws(() => resolveRef('ab', lookups, policy), { kind: 'invalid-parameter', code: 'TSD_ERR_AMBIGUOUS_PREFIX', message: 'multiple IDs found with provided prefix: ab' });
  t.throws(() => resolveRef('ab', lookups, { ambiguous: (r, n) => notFound(`network ${r} is ambiguous (${n} matches found based on ID prefix)`) }),
    { kind: 'not-found', message: 'network ab is ambiguous (2 matches found based on ID prefix)' });
  t.equal(resolveRef('sha256:abc', lookups, { ...policy, prefixOf: (r) => r.replace(/^sha256:/, '') }), 'abc123', 'prefixOf normalises');
});
