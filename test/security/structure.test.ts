// Issue #9 items 1-3, structurally: the source tree itself is checked so that a
// later change cannot quietly bring back a path-string access to a container's
// filesystem or a mount made from a string an image controls.
//   - one module owns container paths: rootfs/ (on sys/fsat.ts); nothing else
//     builds a path on a container root, resolves one to a string (realpath,
//     secureJoin, resolveInRoot) or calls node:fs on one;
//   - mounts are made from and onto fds (open_tree/fsmount + move_mount): a
//     mount(2) with a path source exists only where the daemon mounts paths of
//     its own data or exec root, each listed here with why;
//   - the init is non-dumpable from its first act.
// Each rule is first shown to catch the pattern it forbids (a rule that matches
// nothing proves nothing). Reads ~200 source files: well under a second.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/security/x.js → the repository
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCE_DIRS = ['api', 'builder', 'cgroupfs', 'cli', 'daemon', 'errors', 'image', 'netctl', 'rootfs', 'runtime', 'store', 'sys'];

/** The code of a file with comments blanked (line numbers kept), so prose about a pattern is no hit. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function sources(): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(repo, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push({ file: r, text: code(fs.readFileSync(path.join(repo, r), 'utf8')) });
    }
  };
  for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(repo, d))) walk(d);
  return out;
}

interface Rule {
  name: string;
  pattern: RegExp;
  /** file → why it may (paths that are the daemon's own, never a container's) */
  allowed: Record<string, string>;
  /** code the rule must catch */
  bad: string[];
  /** code it must let through */
  good: string[];
}

const OWNER = { 'rootfs/': 'the fd-relative module itself', 'sys/fsat.ts': 'its syscall bindings' };
const owned = (file: string): boolean => Object.keys(OWNER).some((p) => file === p || (p.endsWith('/') && file.startsWith(p)));

const RULES: Rule[] = [
  {
    name: 'no container path resolved to a string (realpath, secureJoin, resolveInRoot)',
    pattern: /\b(realpath(Sync)?|resolveInRoot|secureJoin|followSymlinkInScope)\b/,
    allowed: {
      'cgroupfs/index.ts': 'the host\'s /sys/fs/cgroup hierarchies (controller links), no container path',
      'cgroupfs/v1/layout.ts': 'the host\'s /sys/fs/cgroup hierarchies (which controllers a root co-mounts), no container path',
    },
    bad: ['const abs = fs.realpathSync(path.join(dir, rel));', 'const p = resolveInRoot(rootfs, dest);', 'await fs.promises.realpath(x)'],
    good: ['const p = root.resolvedPath(dest);', 'root.openFd(p, F.O_PATH)'],
  },
  {
    name: 'no path string built on a container root',
    pattern: /path(\.posix)?\.(join|resolve)\(\s*[\w.]*\b(rootfs|upperdir|merged|mergedDir|target)\b|\$\{[\w.()]*\b(rootfs|upperdir|merged|target)\b[\w.()]*\}\/|\b(rootfs|upperdir|target)\s*\+\s*['"`]\//,
    allowed: {},
    bad: ['path.join(rootfs, m.Destination)', 'path.join(live.rootfs.target, p)', 'path.resolve(upperdir, rel)', 'mount(`${r}/dev/null`)'.replace('r}', 'rootfs}'), '`${rootfs(ctx)}/dev/null`', 'c.rootfs.target + \'/etc/passwd\''],
    good: ['path.join(containerDir(ctx, c.id), \'upper\')', 'root.openFd(path.posix.dirname(dest), F.O_PATH)', 'Root.open(rootfs.target)'],
  },
  {
    name: 'no node:fs call on a container root',
    pattern: /\bfs(\.promises)?\.\w+\([^;\n]*\b(rootfs\.target|rootfs\(ctx\)|plan\.rootfs|upperdir|mergedDir)\b/,
    allowed: {},
    bad: ['fs.readdirSync(live.rootfs.target)', 'fs.createReadStream(path.join(plan.rootfs, p))', 'fs.lstatSync(o.upperdir)'],
    good: ['fs.mkdirSync(dir, { recursive: true })', 'Root.open(o.upperdir)'],
  },
  {
    name: 'mounts from fds: mount(2) with a path source only where the path is the daemon\'s own',
    pattern: /\.mount\(\s*(?!null\b)[^,\s)]+\s*,/,
    allowed: {
      'runtime/init/steps/rootfs.ts': 'bindRootfs: the overlay target (a path of the data root) bound onto itself before it is opened as the root fd',
      'image/snapshot.ts': 'the overlay itself (source "overlay", lowerdir/upperdir of the data root)',
      'netctl/netns.ts': 'the exec root\'s netns directory bound onto itself',
      'sys/syscalls.ts': 'the mount(2) binding',
      'sys/netlink.ts': 'a new netns (/proc/thread-self/ns/net) bound onto a file of the exec root',
    },
    bad: ['ctx.sys.mount(`${r}/dev/null`, dest, null, MS_BIND, null)', 'ctx.sys.mount(slavePath, \'/dev/console\', null, K.MS_BIND, null)', 'sys.mount(m.source, target, null, MS_BIND)'],
    good: ['ctx.sys.mount(null, \'/\', null, K.MS_REC | K.MS_PRIVATE, null)', 'ctx.sys.moveMount(mfd, targetFd)', 'ctx.sys.openTree(state.nullFd, \'\', false)'],
  },
  {
    name: 'openat2 and RESOLVE_* only in the fd-relative module',
    pattern: /\b(openat2|RESOLVE_IN_ROOT|RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS)\b/,
    allowed: {}, // Docker's default seccomp profile, which names openat2, is data now (runtime/seccomp/default.json)
    bad: ['F.openat2(fd, p, 0, 0, F.RESOLVE_IN_ROOT)'],
    good: ['root.openFd(p, F.O_RDONLY)'],
  },
];

t.test('each rule catches what it forbids', async (t) => {
  for (const r of RULES) {
    for (const b of r.bad) t.match(code(b), r.pattern, `${r.name}: catches ${b}`);
    for (const g of r.good) t.notMatch(code(g), r.pattern, `${r.name}: lets through ${g}`);
  }
  t.notMatch(code('// fs.realpathSync(path.join(rootfs, p)) in a comment'), RULES[0]!.pattern, 'comments are no hits');
});

t.test('the source tree keeps to the rules', async (t) => {
  const files = sources();
  t.ok(files.length > 100, `${files.length} source files read`);
  t.ok(files.some((f) => f.file === 'rootfs/root.ts'), 'the rootfs module is among them');
  for (const r of RULES) {
    const hits: string[] = [];
    for (const { file, text } of files) {
      if (owned(file) || r.allowed[file]) continue;
      text.split('\n').forEach((line, i) => {
        if (r.pattern.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    t.same(hits, [], r.name);
    // an allowance for a file that no longer needs it is dropped, not kept as a blank cheque
    for (const f of Object.keys(r.allowed)) {
      const src = files.find((x) => x.file === f);
      t.ok(src && src.text.split('\n').some((l) => r.pattern.test(l)), `${r.name}: ${f} still needs its allowance (${r.allowed[f]})`);
    }
  }
});

t.test('the init is non-dumpable as its first act', async (t) => {
  const main = code(fs.readFileSync(path.join(repo, 'runtime/init/main.ts'), 'utf8'));
  const first = /function main\(\)[^{]*\{\s*([^;]*);/.exec(main);
  t.ok(first, 'runtime/init/main.ts has its main()');
  t.match(first?.[1] ?? '', /\.prctl\(\s*PR_SET_DUMPABLE\s*,\s*0\s*\)$/, 'its first statement is prctl(PR_SET_DUMPABLE, 0)');
});
