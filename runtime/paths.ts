// The host-dependent part of Docker's default masked paths (moby's
// defaultLinuxMaskedPaths): each possible CPU's thermal_throttle directory that
// exists (GHSA-6fw5-f8r9-fgfm). Computed once, like moby's sync.OnceValue.
import fs from 'node:fs';
import { MASKED_PATHS } from './spec.js';

let cached: string[] | null = null;

/** /sys/devices/system/cpu/possible ("0-3,8") as CPU numbers. */
function possibleCpus(): number[] {
  let text = '';
  try {
    text = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const part of text.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The masked paths a new container gets (stored as its HostConfig.MaskedPaths). */
export function defaultMaskedPaths(): string[] {
  if (!cached) {
    cached = [...MASKED_PATHS];
    for (const cpu of possibleCpus()) {
      const p = `/sys/devices/system/cpu/cpu${cpu}/thermal_throttle`;
      if (fs.existsSync(p)) cached.push(p);
    }
  }
  return [...cached];
}
