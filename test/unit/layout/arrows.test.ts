// The layout's arrows (eslint.config.js) hold for the whole tree, and the rule
// really refuses what it says it refuses: an import against an arrow, past a
// folder's face, of api/ from below it, of koffi outside sys/.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const eslint = new ESLint({ cwd: root });

t.test('the tree follows the arrows', async (t) => {
  const results = await eslint.lintFiles(['.']);
  const errors = results.flatMap((r) => r.messages.map((m) => `${path.relative(root, r.filePath)}:${m.line} ${m.message}`));
  t.ok(results.length > 100, `linted ${results.length} files`);
  t.same(errors, [], 'no import against the layout');
});

/** The messages eslint gives `code` as if it were the file at `file` (relative to the root). */
async function lint(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return r!.messages.map((m) => m.message);
}

t.test('what the rule refuses', async (t) => {
  const refused: Array<[string, string, RegExp]> = [
    ['daemon/x.ts', "import { buildServer } from '../api/index.js';", /may not import api/],
    ['store/x.ts', "import type { Services } from '../daemon/index.js';", /may not import daemon/],
    ['runtime/x.ts', "import { createImageService } from '../image/index.js';", /may not import image/],
    ['netctl/x.ts', "import koffi from 'koffi';", /only sys\/ calls koffi/],
    ['api/routes/x.ts', "import { ContainerService } from '../../daemon/containers/service.js';", /through its face/],
    ['daemon/containers/x.ts', "import { ContainerStore } from '../../store/containers.js';", /through its face/],
    ['cli/x.ts', "import { ContainerBackend } from '../daemon/index.js';", /may not import daemon/],
    ['lib/x.ts', "import { openDatabase } from '../store/index.js';", /may not import store/],
  ];
  for (const [file, code, want] of refused) {
    const got = await lint(file, code);
    t.ok(got.some((m) => want.test(m)), `${file}: ${code} is refused (${got.join('; ') || 'no message'})`);
  }
  const allowed: Array<[string, string]> = [
    ['daemon/x.ts', "import { createRuntime } from '../runtime/index.js';"],
    ['api/routes/x.ts', "import type { ContainerBackend } from '../../daemon/index.js';"],
    ['sys/x.ts', "import koffi from 'koffi';"],
    ['daemon/main.ts', "import { buildServer } from '../api/index.js';"],
    ['runtime/init/x.ts', "import { LinuxSyscalls } from '../../sys/syscalls.js';"],
    ['cli/x.ts', "import { demuxAll } from '../wire/index.js';"],
    ['netctl/x.ts', "import { KeyedLock } from '../lib/index.js';"],
  ];
  for (const [file, code] of allowed) t.same(await lint(file, code), [], `${file}: ${code} is allowed`);
});
