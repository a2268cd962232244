// The build driver: Docker's classic builder (moby builder/dockerfile) step by
// step. Every stage up to the target is built in order; each instruction is a
// step printed as `Step n/N : <line>`, probed in the build cache, and otherwise
// executed: RUN in a container of tsd's own runtime (committed as a layer),
// COPY/ADD/WORKDIR into a writable layer over the current image, everything
// else as a new image config with an empty layer. Each step's result is an
// image (dockerd's intermediate images), so a rebuild of the same context hits
// the cache at every step and ends at the same image ID.
import path from 'node:path';
import { BuildArgs } from './buildargs.js';
import { CacheProber, type Platform } from './cache.js';
import { receiveContext, type BuildContext } from './context.js';
import { PatternMatcher, readIgnoreFile } from './dockerignore.js';
import {
  copyRunConfig, cmdComment, cmdCommentString, DEFAULT_PATH, healthString, normalizeWorkdir, parseExposedPorts, shellOf, shortId, validSignal,
} from './dispatch-helpers.js';
import { findStage, parseStages, type Dockerfile, type Instruction, type Stage } from './instructions.js';
import { DockerfileParseError, formatWarnings, parseDockerfile } from './parser.js';
import { envFromList, goList, goQuoteList, ShellError, ShellLex, type EnvLookup } from './shell.js';
import { InstructionError } from './instructions.js';
import { performCopy, type CopyRequest } from './copy.js';
import { openRemote, type RemoteContext } from './remote.js';
import {
  BuildError, type BuildBackend, type BuildCacheIndex, type BuildImage, type BuildOutput, type BuildRequest, type BuildResult, type ImageConfig,
  type RunConfig,
} from './types.js';

export interface BuilderOptions {
  /** where contexts, downloads and scratch layers live while a build runs (inside the data root) */
  workDir: string;
  /** the platform images are built for unless a request says otherwise */
  platform: Platform;
  /** written into image configs as docker_version */
  dockerVersion: string;
  log?: { debug(o: unknown, m?: string): void; warn(o: unknown, m?: string): void };
}

/** The scratch image (`FROM scratch`): no ID, no layers. */
export function scratchImage(p: Platform): BuildImage {
  return { id: '', parent: '', config: { architecture: p.architecture, os: p.os, rootfs: { type: 'layers', diff_ids: [] }, history: [] } };
}

/** One stage's state while its steps run (moby's dispatchState). */
interface StageState {
  name: string;
  image: BuildImage;
  runConfig: RunConfig;
  buildArgs: BuildArgs;
  maintainer: string;
  cmdSet: boolean;
}

export class Builder {
  constructor(private readonly backend: BuildBackend, private readonly cache: BuildCacheIndex, readonly opts: BuilderOptions) {}

  /**
   * Runs a build. Errors before the first `out` call are the request's errors
   * (Docker answers them with an HTTP status); later ones go in the stream.
   */
  async build(req: BuildRequest, out: BuildOutput, signal: AbortSignal): Promise<BuildResult> {
    const tags = req.tags.map((t) => this.backend.normalizeTag(t));
    let input = req.context;
    let remote: RemoteContext | null = null;
    if (req.remote) {
      req.context.resume(); // the body is not the context
      remote = await openRemote(req.remote, req.dockerfile, this.opts.workDir, signal);
      input = remote.stream;
    }
    let ctx;
    try {
      ctx = await receiveContext(input, this.opts.workDir, (tar, dir) => this.backend.extractContext(tar, dir), signal,
        [req.dockerfile || 'Dockerfile', 'dockerfile', '.dockerignore']);
    } finally {
      await remote?.close();
    }
    const run = new BuildRun(this, this.backend, this.cache, req, out, signal, ctx);
    try {
      const imageId = await run.execute();
      out.stdout(`Successfully built ${shortId(imageId)}\n`);
      for (const t of tags) {
        this.backend.tag(imageId, t);
        out.stdout(`Successfully tagged ${familiarTag(t)}\n`);
      }
      return { imageId, tags };
    } finally {
      await run.cleanup();
      await ctx.close();
    }
  }
}

/** docker.io/library/x:1 -> x:1, as the CLI's "Successfully tagged" shows it. */
function familiarTag(t: string): string {
  return t.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

const expansionError = (e: unknown): never => {
  if (e instanceof ShellError) throw new BuildError('invalid-parameter', e.message);
  throw e;
};

class BuildRun {
  private lex: ShellLex;
  private df!: Dockerfile;
  private prober!: CacheProber;
  private total = 0;
  private stepNo = 1;
  /** finished stages: by lower-cased name and in order (moby's stagesBuildResults) */
  private readonly stagesByName = new Map<string, BuildImage>();
  private readonly stagesFlat: BuildImage[] = [];
  /** intermediate containers of the current step (removed per rm/forcerm) */
  private readonly containers = new Set<string>();
  private readonly platform: Platform;
  /** images this build holds against a concurrent prune */
  private readonly held: string[] = [];

  constructor(
    private readonly builder: Builder,
    private readonly backend: BuildBackend,
    private readonly cache: BuildCacheIndex,
    private readonly req: BuildRequest,
    private readonly out: BuildOutput,
    private readonly signal: AbortSignal,
    private readonly ctx: BuildContext,
  ) {
    this.platform = parsePlatformOr(req.platform, builder.opts.platform);
    this.lex = new ShellLex('\\');
  }

  // ---------------------------------------------------------------- setup (errors here are HTTP errors)

  private async readDockerfile(): Promise<Buffer> {
    const name = this.req.dockerfile || 'Dockerfile';
    const read = async (rel: string): Promise<Buffer | null> => {
      try {
        return await this.ctx.readFile(rel);
      } catch (e) {
        if (e instanceof BuildError) throw e;
        throw new BuildError('system', `forbidden path outside the build context: ${name} ()`);
      }
    };
    let used = name;
    let data = await read(name);
    if (data === null && name === 'Dockerfile') {
      data = await read('dockerfile');
      used = 'dockerfile';
    }
    if (data === null) throw new BuildError('system', `Cannot locate specified Dockerfile: ${name}`);
    if (data.length === 0) throw new BuildError('invalid-parameter', `the Dockerfile (${name}) cannot be empty`);
    // .dockerignore can name the Dockerfile and itself: they are then not part of the context (the client sent them for this)
    const ignore = await read('.dockerignore').catch(() => null);
    if (ignore !== null) {
      let pm: PatternMatcher;
      try {
        pm = new PatternMatcher(readIgnoreFile(ignore));
      } catch (e) {
        throw new BuildError('invalid-parameter', `error reading .dockerignore: ${(e as Error).message}`);
      }
      for (const f of ['.dockerignore', used]) if (pm.matchesOrParentMatches(f)) this.ctx.remove(f);
    }
    return data;
  }

  private async parse(): Promise<void> {
    const name = this.req.dockerfile || 'Dockerfile';
    const text = await this.readDockerfile();
    let parsed;
    try {
      parsed = parseDockerfile(text);
    } catch (e) {
      if (e instanceof DockerfileParseError) throw new BuildError('invalid-parameter', `failed to parse ${name}: ${e.message}`);
      throw e;
    }
    try {
      this.df = parseStages(parsed);
    } catch (e) {
      if (e instanceof InstructionError) throw new BuildError('invalid-parameter', e.message);
      throw e;
    }
    if (this.req.target) {
      const i = findStage(this.df.stages, this.req.target);
      if (i < 0) throw new BuildError('invalid-parameter', `failed to reach build target ${this.req.target} in Dockerfile`);
      this.df.stages = this.df.stages.slice(0, i + 1);
    }
    const last = this.df.stages[this.df.stages.length - 1];
    if (last) {
      for (const k of Object.keys(this.req.labels).sort()) {
        last.commands.push({ kind: 'label', labels: [{ key: k, value: this.req.labels[k]!, noDelim: false }], noExpand: true, code: `LABEL ${k}=${this.req.labels[k]}`, line: 0 });
      }
    }
    this.lex = new ShellLex(this.df.escapeToken);
  }

  private resolveCacheFrom(): BuildImage[] {
    const out: BuildImage[] = [];
    for (const ref of this.req.cacheFrom) {
      const img = this.backend.findImage(ref);
      if (img) out.push(img);
      else this.builder.opts.log?.warn({ ref }, 'cache-from image not found, skipping');
    }
    return out;
  }

  // ---------------------------------------------------------------- the build

  async execute(): Promise<string> {
    await this.parse();
    this.prober = new CacheProber(this.backend, this.cache, { noCache: this.req.noCache, cacheFrom: this.resolveCacheFrom(), dockerVersion: this.builder.opts.dockerVersion });
    const warn = formatWarnings(this.df.warnings);
    if (this.df.directives.syntax) this.out.stderr(`[WARNING]: the syntax directive (# syntax=${this.df.directives.syntax}) needs BuildKit; the classic builder ignores it\n`);
    if (warn) this.out.stderr(warn);

    const top = new BuildArgs(this.req.buildArgs);
    this.total = this.df.metaArgs.length + this.df.stages.length + this.df.stages.reduce((n, s) => n + s.commands.length, 0);
    for (const meta of this.df.metaArgs) {
      this.printStep(meta.code);
      const env = mapLookup(top.allowedValues());
      for (const a of meta.args) {
        let value = a.value;
        try {
          if (value !== null) value = this.lex.processWord(value, env);
        } catch (e) {
          expansionError(e);
        }
        top.addArg(a.key, value);
        top.addMetaArg(a.key, value);
      }
    }

    let last: StageState | null = null;
    for (const stage of this.df.stages) {
      if (stage.name && this.stagesByName.has(stage.name)) throw new BuildError('invalid-parameter', `${stage.name} stage name already used`);
      this.printStep(stage.code);
      const st = await this.initStage(stage, top.forStage());
      this.printImage(st);
      for (const cmd of stage.commands) {
        if (this.signal.aborted) {
          this.out.stdout('Build cancelled\n');
          throw new BuildError('system', 'Build cancelled');
        }
        this.printStep(cmd.code);
        await this.dispatch(st, cmd);
        this.printImage(st);
      }
      if (st.image.id) this.out.aux(st.image.id);
      top.mergeReferenced(st.buildArgs);
      if (stage.name) this.stagesByName.set(stage.name, st.image);
      this.stagesFlat.push(st.image);
      last = st;
    }
    const warning = top.unusedWarning();
    if (warning) this.out.stdout(warning);
    if (!last || !last.image.id) throw new BuildError('system', 'No image was generated. Is your Dockerfile empty?');
    return last.image.id;
  }

  private printStep(code: string): void {
    this.out.stdout(`Step ${this.stepNo++}/${this.total} : ${code}`);
    this.out.stdout('\n');
  }

  private printImage(st: StageState): void {
    this.out.stdout(` ---> ${shortId(st.image.id)}\n`);
  }

  /** FROM: the base image (a stage, scratch, local or pulled), then its ONBUILD triggers. */
  private async initStage(stage: Stage, args: BuildArgs): Promise<StageState> {
    this.prober.reset();
    const meta = mapLookup(args.metaValues());
    let platform = this.platform;
    if (stage.platform) {
      let v = '';
      try {
        v = this.lex.processWord(stage.platform, meta);
      } catch (e) {
        throw new BuildError('invalid-parameter', `failed to process arguments for platform ${stage.platform}: ${(e as Error).message}`);
      }
      const p = parsePlatform(v);
      if (!p) throw new BuildError('invalid-parameter', `failed to parse platform ${v}: "${v}": unknown operating system or architecture: invalid argument`);
      platform = p;
    }
    let name: string;
    try {
      name = this.lex.processWord(stage.baseName, meta);
    } catch (e) {
      return expansionError(e);
    }
    if (name === '') throw new BuildError('invalid-parameter', `base name (${stage.baseName}) should not be blank`);
    const image = await this.imageOrStage(name, platform);
    const runConfig = copyRunConfig(image.config.config ?? {});
    if (!(runConfig.Env ?? []).some((e) => e.startsWith('PATH='))) runConfig.Env = [...(runConfig.Env ?? []), `PATH=${DEFAULT_PATH}`];
    runConfig.OpenStdin = false;
    runConfig.StdinOnce = false;
    const st: StageState = { name: stage.name, image, runConfig, buildArgs: args, maintainer: '', cmdSet: false };
    const triggers = runConfig.OnBuild ?? [];
    if (triggers.length) {
      st.runConfig.OnBuild = null;
      this.out.stdout(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) {
        let cmd: Instruction;
        try {
          const df = parseStages(parseDockerfile(`FROM scratch\n${t}`));
          const cmds = df.stages[0]!.commands;
          if (cmds.length !== 1) throw new BuildError('invalid-parameter', 'onbuild trigger should be a single expression');
          cmd = cmds[0]!;
        } catch (e) {
          if (e instanceof DockerfileParseError || e instanceof InstructionError) throw new BuildError('invalid-parameter', e.message.replace(/^dockerfile parse error line \d+: /, ''));
          throw e;
        }
        await this.dispatch(st, cmd);
      }
    }
    return st;
  }

  private async imageOrStage(name: string, platform: Platform): Promise<BuildImage> {
    const stage = this.stagesByName.get(name.toLowerCase());
    if (stage) return stage;
    if (name === 'scratch') return scratchImage(platform);
    return this.getImage(name, platform);
  }

  /** A local image, or pulled when missing (always with `pull`). */
  private async getImage(ref: string, platform: Platform, localOnly = false): Promise<BuildImage> {
    if (!this.req.pull || localOnly) {
      const local = this.backend.findImage(ref);
      if (local) return local;
      if (localOnly) throw new BuildError('not-found', `No such image: ${ref}`);
    }
    return this.backend.pullImage(ref, {
      auth: this.req.auth,
      platform: this.req.platform || (platform === this.platform ? undefined : `${platform.os}/${platform.architecture}`),
      progress: (m) => this.out.progress(m),
      signal: this.signal,
    });
  }

  // ---------------------------------------------------------------- steps

  private envOf(st: StageState): EnvLookup {
    const env = st.runConfig.Env ?? [];
    return envFromList([...env, ...st.buildArgs.filterAllowed(env)]);
  }

  private expand(st: StageState, word: string): string {
    try {
      return this.lex.processWord(word, this.envOf(st));
    } catch (e) {
      return expansionError(e);
    }
  }

  private async dispatch(st: StageState, cmd: Instruction): Promise<void> {
    let ok = false;
    try {
      await this.dispatchOne(st, cmd);
      ok = true;
    } finally {
      // dockerd keeps a failed step's container under rm=1; tsd removes it (a failed build leaves nothing), rm=0 keeps it
      if (this.req.forceRemove || this.req.remove) await this.removeContainers();
      void ok;
    }
  }

  private async removeContainers(): Promise<void> {
    for (const id of [...this.containers]) {
      try {
        await this.backend.removeContainer(id);
        this.containers.delete(id);
        this.out.stdout(`Removing intermediate container ${shortId(id)}\n`);
      } catch (e) {
        this.out.stdout(`Removing intermediate container ${shortId(id)}: ${(e as Error).message}\n`);
      }
    }
  }

  private hold(id: string): void {
    this.cache.hold?.(id);
    this.held.push(id);
  }

  /** Removes what a failed or cancelled build left (containers kept only when the client asked with rm=false). */
  async cleanup(): Promise<void> {
    for (const id of this.held.splice(0)) this.cache.release?.(id);
    if (this.signal.aborted || this.req.remove || this.req.forceRemove) {
      for (const id of [...this.containers]) {
        try {
          await this.backend.removeContainer(id);
        } catch (e) {
          this.builder.opts.log?.warn({ err: e, id }, 'intermediate container not removed');
        }
        this.containers.delete(id);
      }
    }
  }

  private async dispatchOne(st: StageState, c: Instruction): Promise<void> {
    switch (c.kind) {
      case 'env': {
        const env = [...(st.runConfig.Env ?? [])];
        const lookup = this.envOf(st);
        const pairs = c.env.map((kv) => {
          try {
            return { key: this.lex.processWord(kv.key, lookup), value: this.lex.processWord(kv.value, lookup) };
          } catch (e) {
            return expansionError(e);
          }
        });
        let msg = 'ENV';
        for (const { key, value } of pairs) {
          const nv = `${key}=${value}`;
          msg += ' ' + nv;
          const i = env.findIndex((e) => e.split('=')[0] === key);
          if (i >= 0) env[i] = nv;
          else env.push(nv);
        }
        st.runConfig.Env = env;
        return this.commitMeta(st, msg);
      }
      case 'maintainer':
        st.maintainer = c.maintainer;
        return this.commitMeta(st, `MAINTAINER ${c.maintainer}`);
      case 'label': {
        const lookup = this.envOf(st);
        const labels = { ...(st.runConfig.Labels ?? {}) };
        let msg = 'LABEL';
        for (const kv of c.labels) {
          let key = kv.key;
          let value = kv.value;
          if (!c.noExpand) {
            try {
              key = this.lex.processWord(key, lookup);
              value = this.lex.processWord(value, lookup);
            } catch (e) {
              expansionError(e);
            }
          }
          labels[key] = value;
          msg += ` ${key}=${value}`;
        }
        st.runConfig.Labels = labels;
        return this.commitMeta(st, msg);
      }
      case 'add':
      case 'copy':
        return this.copy(st, c);
      case 'onbuild':
        st.runConfig.OnBuild = [...(st.runConfig.OnBuild ?? []), c.expression];
        return this.commitMeta(st, `ONBUILD ${c.expression}`);
      case 'workdir':
        return this.workdir(st, this.expand(st, c.path));
      case 'run':
        return this.runStep(st, c);
      case 'cmd': {
        const cmd = c.prependShell ? [...shellOf(st.runConfig), ...c.cmdLine] : c.cmdLine;
        st.runConfig.Cmd = cmd;
        st.runConfig.ArgsEscaped = false;
        await this.commitMeta(st, `CMD ${goQuoteList(cmd)}`);
        if (c.cmdLine.length) st.cmdSet = true;
        return;
      }
      case 'entrypoint': {
        const ep = c.cmdLine === null ? null : c.prependShell ? [...shellOf(st.runConfig), ...c.cmdLine] : c.cmdLine;
        st.runConfig.Entrypoint = ep;
        st.runConfig.ArgsEscaped = false;
        if (!st.cmdSet) st.runConfig.Cmd = null;
        return this.commitMeta(st, `ENTRYPOINT ${goQuoteList(ep)}`);
      }
      case 'healthcheck': {
        const old = st.runConfig.Healthcheck?.Test;
        if (old?.length && old[0] !== 'NONE') this.out.stdout(`Note: overriding previous HEALTHCHECK: ${goList(old)}\n`);
        const h = c.health;
        // zero durations and retries are left out, as Go's omitempty writes them
        st.runConfig.Healthcheck = h.test[0] === 'NONE'
          ? { Test: ['NONE'] }
          : {
            Test: h.test, ...(h.interval ? { Interval: h.interval } : {}), ...(h.timeout ? { Timeout: h.timeout } : {}),
            ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}), ...(h.startInterval ? { StartInterval: h.startInterval } : {}), ...(h.retries ? { Retries: h.retries } : {}),
          };
        return this.commitMeta(st, `HEALTHCHECK ${healthString(st.runConfig.Healthcheck)}`);
      }
      case 'expose': {
        const lookup = this.envOf(st);
        const ports: string[] = [];
        for (const p of c.ports) {
          try {
            ports.push(...this.lex.processWords(p, lookup));
          } catch (e) {
            expansionError(e);
          }
        }
        let keys: string[];
        try {
          keys = parseExposedPorts(ports);
        } catch (e) {
          throw new BuildError('invalid-parameter', (e as Error).message);
        }
        const exposed = { ...(st.runConfig.ExposedPorts ?? {}) };
        for (const k of keys) exposed[k] = {};
        st.runConfig.ExposedPorts = exposed;
        return this.commitMeta(st, `EXPOSE ${ports.join(' ')}`);
      }
      case 'user':
        st.runConfig.User = this.expand(st, c.user);
        return this.commitMeta(st, `USER ${st.runConfig.User}`);
      case 'volume': {
        const vols = c.volumes.map((v) => this.expand(st, v));
        const m = { ...(st.runConfig.Volumes ?? {}) };
        for (const v of vols) {
          if (v === '') throw new BuildError('invalid-parameter', 'VOLUME specified can not be an empty string');
          m[v] = {};
        }
        st.runConfig.Volumes = m;
        return this.commitMeta(st, `VOLUME ${goList(vols)}`);
      }
      case 'stopsignal': {
        const sig = this.expand(st, c.signal);
        if (!validSignal(sig)) throw new BuildError('invalid-parameter', `Invalid signal: ${sig}`);
        st.runConfig.StopSignal = sig;
        return this.commitMeta(st, `STOPSIGNAL ${sig}`);
      }
      case 'arg': {
        const lookup = this.envOf(st);
        const parts: string[] = [];
        for (const a of c.args) {
          let key = a.key;
          let value = a.value;
          try {
            key = this.lex.processWord(key, lookup);
            if (value !== null) value = this.lex.processWord(value, lookup);
          } catch (e) {
            expansionError(e);
          }
          parts.push(value === null ? key : `${key}=${value}`);
          st.buildArgs.addArg(key, value);
        }
        return this.commitMeta(st, `ARG ${parts.join(' ')}`);
      }
      case 'shell':
        st.runConfig.Shell = [...c.shell];
        return this.commitMeta(st, `SHELL ${goList(st.runConfig.Shell)}`);
    }
  }

  // ---------------------------------------------------------------- commits

  private hit(st: StageState, probe: RunConfig): boolean {
    const id = this.prober.probe(st.image, probe, this.platform, st.runConfig);
    if (!id) return false;
    const img = this.backend.findImage(id);
    if (!img) return false;
    this.out.stdout(' ---> Using cache\n');
    this.hold(img.id);
    st.image = img;
    return true;
  }

  private advance(st: StageState, probe: RunConfig, imageId: string): void {
    const parent = st.image;
    const img = this.backend.findImage(imageId);
    if (!img) throw new BuildError('system', `image ${imageId} vanished after its commit`);
    this.prober.record(parent, probe, this.platform, imageId, (probe.Cmd ?? []).join(' '));
    this.hold(img.id);
    st.image = img;
  }

  /** A step that changes only the config: a new image with an empty layer. */
  private async commitMeta(st: StageState, comment: string): Promise<void> {
    const probe = copyRunConfig(st.runConfig, { Cmd: cmdComment(st.runConfig, comment) });
    if (this.hit(st, probe)) return;
    const id = this.backend.createImage(this.childConfig(st, probe, '', null), st.image.id);
    this.advance(st, probe, id);
  }

  /** Docker's NewChildImage for a step that adds no layer. */
  private childConfig(st: StageState, containerConfig: RunConfig, containerId: string, diffId: string | null): ImageConfig {
    const base = st.image.config;
    const created = new Date().toISOString();
    const cfg: ImageConfig = {
      architecture: base.architecture || this.platform.architecture,
      ...(base.variant ? { variant: base.variant } : {}),
      os: base.os || this.platform.os,
      config: withImage(copyRunConfig(st.runConfig), st.image.id),
      container: containerId,
      container_config: withImage({ ...containerConfig, Hostname: containerId.slice(0, 12) }, st.image.id),
      created,
      docker_version: this.builder.opts.dockerVersion,
      ...(st.maintainer ? { author: st.maintainer } : {}),
      history: [...(base.history ?? []), { created, ...(st.maintainer ? { author: st.maintainer } : {}), created_by: (containerConfig.Cmd ?? []).join(' '), ...(diffId ? {} : { empty_layer: true }) }],
      rootfs: { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), ...(diffId ? [diffId] : [])] },
      ...(base['os.version'] ? { 'os.version': base['os.version'] } : {}),
      ...(base['os.features'] ? { 'os.features': base['os.features'] } : {}),
    };
    return cfg;
  }

  private childOf(st: StageState, probe: RunConfig, containerId: string) {
    return {
      config: withImage(copyRunConfig(st.runConfig), st.image.id),
      containerConfig: withImage({ ...probe, ...(containerId ? { Hostname: containerId.slice(0, 12) } : {}) }, st.image.id),
      containerId,
      author: st.maintainer,
    };
  }

  // ---------------------------------------------------------------- RUN

  private async runStep(st: StageState, c: Extract<Instruction, { kind: 'run' }>): Promise<void> {
    if (c.flagsUsed.length) {
      throw new BuildError('invalid-parameter', `the --${c.flagsUsed[0]} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
    }
    const cmd = c.prependShell ? [...shellOf(st.runConfig), ...c.cmdLine] : [...c.cmdLine];
    const args = st.buildArgs.filterAllowed(st.runConfig.Env ?? []);
    let saveCmd = cmd;
    if (args.length) {
      const inKey = args.filter((kv) => st.buildArgs.isReferencedOrNotBuiltin(kv.slice(0, kv.indexOf('=')))).sort();
      saveCmd = [`|${inKey.length}`, ...inKey, ...cmd];
    }
    const probe = copyRunConfig(st.runConfig, { Cmd: saveCmd, ArgsEscaped: false, ...(saveCmd.length ? { Entrypoint: null } : {}) });
    if (this.hit(st, probe)) return;
    const runConfig = copyRunConfig(st.runConfig, {
      Cmd: cmd, ArgsEscaped: false, Env: [...(st.runConfig.Env ?? []), ...args], Healthcheck: { Test: ['NONE'] },
      ...(saveCmd.length ? { Entrypoint: [''] } : {}), Image: st.image.id,
    });
    const { id, warnings } = await this.backend.createContainer(st.image.id, runConfig, this.req.runTemplate);
    this.containers.add(id);
    for (const w of warnings) this.out.stdout(` ---> [Warning] ${w}\n`);
    this.out.stdout(` ---> Running in ${shortId(id)}\n`);
    const r = await this.backend.runContainer(id, { stdout: (b) => this.out.stdout(b), stderr: (b) => this.out.stderr(b) }, this.signal);
    if (this.signal.aborted) throw new BuildError('system', 'Build cancelled');
    if (r.exitCode !== 0) {
      let msg = `The command '${cmd.join(' ')}' returned a non-zero code: ${r.exitCode}`;
      if (r.error) msg += `: ${r.error}`;
      throw new BuildError('system', msg, r.exitCode);
    }
    const imageId = await this.backend.commitContainer(id, st.image, this.childOf(st, probe, id));
    this.advance(st, probe, imageId);
  }

  // ---------------------------------------------------------------- WORKDIR, COPY, ADD

  private async workdir(st: StageState, p: string): Promise<void> {
    try {
      st.runConfig.WorkingDir = normalizeWorkdir(st.runConfig.WorkingDir ?? '', p);
    } catch (e) {
      throw new BuildError('invalid-parameter', (e as Error).message);
    }
    const probe = copyRunConfig(st.runConfig, { Cmd: cmdCommentString(st.runConfig, `WORKDIR ${st.runConfig.WorkingDir}`) });
    if (this.hit(st, probe)) return;
    const layer = await this.backend.openLayer(st.image);
    try {
      await performCopy({ kind: 'workdir', layer, workdir: path.posix.normalize(st.runConfig.WorkingDir!) } as CopyRequest);
      const id = await this.backend.commitLayer(layer.upperdir, st.image, this.childOf(st, probe, ''));
      this.advance(st, probe, id);
    } finally {
      await layer.release();
    }
  }

  private async copy(st: StageState, c: Extract<Instruction, { kind: 'copy' | 'add' }>): Promise<void> {
    const name = c.kind === 'add' ? 'ADD' : 'COPY';
    const sources = c.sources.map((s) => this.expand(st, s));
    const dest = this.expand(st, c.dest);
    const chown = this.expand(st, c.chown);
    const chmod = this.expand(st, c.chmod);
    let fromImage: BuildImage | null = null;
    if (c.kind === 'copy' && c.from) {
      try {
        fromImage = await this.fromImage(c.from);
      } catch (e) {
        throw new BuildError((e as BuildError).kind ?? 'system', `invalid from flag value ${c.from}: ${(e as Error).message}`);
      }
    }
    await performCopy({
      kind: c.kind, name, sources, dest, chown, chmod, workdir: st.runConfig.WorkingDir ?? '',
      context: this.ctx, fromImage, backend: this.backend, workDir: this.builder.opts.workDir, out: this.out, signal: this.signal,
      probe: (comment: string) => {
        const probe = copyRunConfig(st.runConfig, { Cmd: cmdCommentString(st.runConfig, comment) });
        return { hit: this.hit(st, probe), probe };
      },
      parent: () => st.image,
      commit: async (upperdir: string, probe: RunConfig) => {
        const id = await this.backend.commitLayer(upperdir, st.image, this.childOf(st, probe, ''));
        this.advance(st, probe, id);
      },
    });
  }

  /** COPY --from: a finished stage (by name or index), else an image (pulled if missing). */
  private async fromImage(ref: string): Promise<BuildImage> {
    const byName = this.stagesByName.get(ref.toLowerCase());
    if (byName) return byName;
    if (/^-?\d+$/.test(ref)) {
      const i = Number(ref);
      if (i === this.stagesFlat.length) throw new BuildError('invalid-parameter', 'refers to current build stage');
      if (i < 0 || i > this.stagesFlat.length) throw new BuildError('invalid-parameter', 'index out of bounds');
      return this.stagesFlat[i]!;
    }
    return this.getImage(ref, this.platform);
  }
}

const withImage = (c: RunConfig, id: string): RunConfig => ({ ...c, Image: id });

const mapLookup = (m: Map<string, string>): EnvLookup => (k) => m.get(k);

/** "os/arch[/variant]" (or just an os or an arch) as a platform; null when unusable. */
export function parsePlatform(s: string): Platform | null {
  const parts = s.toLowerCase().split('/');
  const arches: Record<string, string> = { x86_64: 'amd64', x86: '386', i386: '386', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };
  const known = ['amd64', '386', 'arm', 'arm64', 'ppc64le', 's390x', 'riscv64', 'mips64le', 'loong64'];
  if (parts.length === 1) {
    if (parts[0] === 'linux') return { os: 'linux', architecture: 'amd64' };
    const a = arches[parts[0]!] ?? parts[0]!;
    return known.includes(a) ? { os: 'linux', architecture: a } : null;
  }
  if (parts[0] !== 'linux' && parts[0] !== 'windows') return null;
  const a = arches[parts[1]!] ?? parts[1]!;
  if (!known.includes(a)) return null;
  return { os: parts[0]!, architecture: a, ...(parts[2] ? { variant: parts[2] } : {}) };
}

function parsePlatformOr(s: string, dflt: Platform): Platform {
  if (!s) return dflt;
  const p = parsePlatform(s);
  if (!p) throw new BuildError('invalid-parameter', `"${s}": unknown operating system or architecture: invalid argument`);
  return p;
}
