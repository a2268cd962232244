// Resolving Docker's User string against the container's /etc/passwd and
// /etc/group (pure: contents in, ids out), with runc's rules.

export interface ExecUser { uid: number; gid: number; groups: number[]; home: string }

export class UserLookupError extends Error {}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export const parsePasswd = (text: string): PasswdEntry[] =>
  text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' }));
export const parseGroup = (text: string): GroupEntry[] =>
  text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));

const isNum = (s: string) => /^\d+$/.test(s);

/**
 * `user` is '', 'uid', 'name', 'uid:gid', 'name:group'; `groupAdd` names or gids.
 * passwd/group are file contents (null when the file is missing).
 */
export function resolveUser(user: string, groupAdd: string[], passwd: string | null, group: string | null): ExecUser {
  const [u = '', g] = user.split(':', 2) as [string, string | undefined];
  const users = passwd ? parsePasswd(passwd) : [];
  const groups = group ? parseGroup(group) : [];
  let uid = 0, gid = 0, home = '/';
  let name: string | null = null;
  const uArg = u === '' ? '0' : u;
  const pw = users.find((e) => (isNum(uArg) ? e.uid === Number(uArg) : e.name === uArg));
  if (pw) {
    uid = pw.uid; gid = pw.gid; home = pw.home || '/'; name = pw.name;
  } else if (isNum(uArg)) {
    uid = Number(uArg);
  } else {
    throw new UserLookupError(`unable to find user ${uArg}: no matching entries in passwd file`);
  }
  let supplementary: number[] = [];
  if (g !== undefined && g !== '') {
    const gr = groups.find((e) => (isNum(g) ? e.gid === Number(g) : e.name === g));
    if (gr) gid = gr.gid;
    else if (isNum(g)) gid = Number(g);
    else throw new UserLookupError(`unable to find group ${g}: no matching entries in group file`);
  } else if (name !== null) {
    supplementary = groups.filter((e) => e.members.includes(name!)).map((e) => e.gid);
  }
  for (const a of groupAdd) {
    const gr = groups.find((e) => (isNum(a) ? e.gid === Number(a) : e.name === a));
    if (gr) supplementary.push(gr.gid);
    else if (isNum(a)) supplementary.push(Number(a));
    else throw new UserLookupError(`Unable to find group ${a}: no matching entries in group file`);
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new UserLookupError(`uids and gids must be in range 0-${0xfffffffe}`);
  // moby getUser: the primary gid first, then the group file's and GroupAdd's
  return { uid, gid, groups: [...new Set([gid, ...supplementary])], home };
}
