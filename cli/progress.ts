// Docker's JSON-message progress streams (pull, push, load) drawn as docker
// draws them: on a terminal one line per layer id, updated in place with a
// `[=====>     ]  1.2MB/3.4MB` bar; lines without an id printed as they come;
// off a terminal, one plain line per status change.
//
// The in-place redraw is cli-progress's MultiBar: it owns the cursor
// movement, redraw throttling and terminal resizes. Each layer is one of its
// bars, rendered by our format function in docker's shape.
import cliProgress from 'cli-progress';
import type { Readable } from 'node:stream';
import { StatusError } from './client.js';
import { humanSize } from './format.js';
import { jsonLines } from './stream.js';

export interface JsonMessage {
  id?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message: string };
  aux?: Record<string, unknown>;
}

interface Payload { id: string; status: string; current: number; total: number }

const BAR = 50;

/** docker's JSONProgress.String: "[====>     ]  1.2MB/3.4MB". */
export function dockerBar(current: number, total: number, width = BAR): string {
  if (total <= 0) return current > 0 ? humanSize(current).padStart(8) : '';
  const filled = Math.min(width, Math.floor((Math.min(current, total) / total) * width));
  const bar = `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
  return `${bar} ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

const formatLine = (_o: unknown, _p: unknown, payload: Payload): string => {
  const bar = payload.total > 0 || payload.current > 0 ? ` ${dockerBar(payload.current, payload.total)}` : '';
  return `${payload.id}: ${payload.status}${bar}`;
};

export interface ProgressResult { error?: string; aux: Array<Record<string, unknown>>; lines: string[] }

/**
 * Renders a progress stream on `out`; returns the aux records (push digests)
 * and the id-less status lines. An in-band error ends it with exit status 1.
 */
export async function renderProgress(body: Readable, out: NodeJS.WriteStream | NodeJS.WritableStream = process.stdout, opts: { quiet?: boolean } = {}): Promise<ProgressResult> {
  const tty = !!(out as NodeJS.WriteStream).isTTY && !opts.quiet;
  const result: ProgressResult = { aux: [], lines: [] };
  let multi: cliProgress.MultiBar | null = null;
  const bars = new Map<string, cliProgress.SingleBar>();
  const lastPlain = new Map<string, string>();
  const ensureMulti = () => {
    multi ??= new cliProgress.MultiBar({
      format: formatLine as unknown as cliProgress.GenericFormatter,
      stream: out as NodeJS.WriteStream,
      hideCursor: false,
      clearOnComplete: false,
      stopOnComplete: false,
      linewrap: false,
      fps: 10,
      autopadding: false,
      forceRedraw: true,
    });
    return multi;
  };
  const endMulti = () => {
    if (multi) multi.stop();
    multi = null;
    bars.clear();
  };
  for await (const m of jsonLines<JsonMessage>(body)) {
    if (m.error || m.errorDetail) {
      result.error = m.errorDetail?.message ?? m.error;
      break;
    }
    if (m.aux) { result.aux.push(m.aux); continue; }
    if (m.stream !== undefined) {
      endMulti();
      if (!opts.quiet) out.write(m.stream);
      continue;
    }
    const status = m.status ?? '';
    if (!m.id) {
      endMulti();
      result.lines.push(status);
      if (!opts.quiet && status) out.write(`${status}\n`);
      continue;
    }
    const current = m.progressDetail?.current ?? 0;
    const total = m.progressDetail?.total ?? 0;
    if (opts.quiet) continue;
    if (!tty) {
      if (lastPlain.get(m.id) !== status) out.write(`${m.id}: ${status}\n`);
      lastPlain.set(m.id, status);
      continue;
    }
    const payload: Payload = { id: m.id, status, current, total };
    const bar = bars.get(m.id);
    if (!bar) bars.set(m.id, ensureMulti().create(total, current, payload));
    else {
      bar.setTotal(total);
      bar.update(current, payload);
    }
  }
  endMulti();
  if (result.error) {
    throw new StatusError(1, result.error);
  }
  return result;
}
