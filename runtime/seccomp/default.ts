// Docker's default seccomp profile: moby's profiles/seccomp/default.json
// (Apache-2.0), shipped unchanged as runtime/seccomp/default.json and parsed
// once, by the same parser as a --security-opt seccomp=<file> profile. Updating
// it is copying moby's file over ours.
import fs from 'node:fs';
import { parseProfile, type SeccompProfile } from './profile.js';

/** The JSON beside the compiled module, else in the source tree (dist/runtime/seccomp → runtime/seccomp). */
function profileText(): string {
  for (const rel of ['./default.json', '../../../runtime/seccomp/default.json']) {
    try {
      return fs.readFileSync(new URL(rel, import.meta.url), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new Error('runtime/seccomp/default.json is missing');
}

export const defaultProfile: SeccompProfile = parseProfile(profileText());
