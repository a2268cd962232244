// The layout's arrows, checked (npm run lint, run by scripts/test.sh before the tests).
//
//   cli ──▶ wire                      daemon/main.ts (the process) ──▶ api, daemon
//   api ──▶ builder, daemon, image, netctl, cgroupfs, wire, errors
//   builder (the classic Dockerfile builder) ──▶ image, rootfs, store, sys, errors; the daemon gives it its backend
//   daemon ──▶ runtime, image, netctl, cgroupfs, store, sys, errors
//   runtime ──▶ cgroupfs, sys, errors        image, netctl ──▶ store, sys, errors
//   cgroupfs ──▶ sys, errors      store ──▶ errors      sys ──▶ errors (and koffi)
//   rootfs (fd-relative file operations in a container's filesystem) ──▶ sys, errors; image, daemon use it
//   lib (resolveRef, KeyedLock) ──▶ errors; every folder above sys may use it
//
// A folder imports another only through its index.ts (its face), and only along
// an arrow. Nothing imports api/ but daemon/main.ts; only sys/ imports koffi;
// only cgroupfs/systemd/bus.ts imports dbus-next.
// Tests and benchmarks may import anything by path.
import tseslint from 'typescript-eslint';

/** What each folder may import, besides itself. */
const ARROWS = {
  errors: [],
  wire: [],
  lib: ['errors'],
  sys: ['errors'],
  rootfs: ['errors', 'lib', 'sys'],
  store: ['errors', 'lib'],
  cgroupfs: ['errors', 'lib', 'sys'],
  runtime: ['errors', 'lib', 'sys', 'rootfs', 'cgroupfs'],
  image: ['errors', 'lib', 'sys', 'rootfs', 'store'],
  netctl: ['errors', 'lib', 'sys', 'store'],
  builder: ['errors', 'lib', 'sys', 'rootfs', 'store', 'image'],
  daemon: ['errors', 'lib', 'sys', 'rootfs', 'store', 'cgroupfs', 'runtime', 'image', 'netctl', 'builder'],
  api: ['errors', 'lib', 'cgroupfs', 'image', 'netctl', 'daemon', 'builder', 'wire'],
  cli: ['wire'],
};
const FOLDERS = Object.keys(ARROWS);

/** The other folder's files, by a relative import that climbs out of this one: all, or all but its index.js. */
const into = (folder, faceAllowed) => ({
  regex: `^(\\.\\./)+${folder}/${faceAllowed ? '(?!index\\.js$)' : ''}`,
  message: faceAllowed
    ? `import ${folder}/ through its face, ${folder}/index.js (see eslint.config.js)`
    : `this folder may not import ${folder}/: the arrows run one way (see eslint.config.js)`,
});

function rule(folder, extra = {}) {
  const allowed = new Set([...ARROWS[folder], ...(extra.also ?? [])]);
  const patterns = FOLDERS.filter((f) => f !== folder).map((f) => into(f, allowed.has(f)));
  return {
    'no-restricted-imports': ['error', {
      paths: [
        ...(folder === 'sys' ? [] : [{ name: 'koffi', message: 'only sys/ calls koffi' }]),
        ...(extra.dbus ? [] : [{ name: 'dbus-next', message: 'only cgroupfs/systemd/bus.ts talks D-Bus (the systemd cgroup driver)' }]),
      ],
      // `exempt`: one import path the folder's rule lets through (a lookahead before the pattern)
      patterns: extra.exempt ? patterns.map((p) => ({ ...p, regex: `(?!${extra.exempt})${p.regex}` })) : patterns,
    }],
  };
}

export default [
  { ignores: ['dist/**', 'node_modules/**', 'test/**', 'bench/**', '.tap/**'] },
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' }, linterOptions: { reportUnusedDisableDirectives: 'off' } },
  ...FOLDERS.map((f) => ({ files: [`${f}/**/*.ts`], rules: rule(f) })),
  // The process: it composes the daemon and serves the API on it.
  { files: ['daemon/main.ts'], rules: rule('daemon', { also: ['api'] }) },
  // The systemd cgroup driver's D-Bus calls: the one importer of the D-Bus client.
  { files: ['cgroupfs/systemd/bus.ts'], rules: rule('cgroupfs', { dbus: true }) },
  // The init runs in the container's process: it loads the syscall, fd-relative and constants modules alone, not all of sys/.
  { files: ['runtime/init/**/*.ts'], rules: rule('runtime', { exempt: '(\\.\\./)+sys/(syscalls|constants|fsat)\\.js$' }) },
];
