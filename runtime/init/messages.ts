// The messages of the failures a user sees from an exec or a start (Docker's
// and runc's wording), shared by the Node init's steps and the C helper's
// reports (runtime/nsexec.ts), so both paths say exactly the same thing.

const CWD_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied',
  ELOOP: 'too many levels of symbolic links', EXDEV: 'invalid cross-device link',
};

/** The working directory could not be entered as the container's user (`code` an errno name). */
export const cwdFailed = (cwd: string, code: string): string => `chdir to cwd ("${cwd}") set in config.json failed: ${CWD_TEXT[code] ?? code}`;

/** Not found on $PATH (exit 127). */
export const execNotFound = (argv0: string): string => `exec: "${argv0}": executable file not found in $PATH`;

/** execve failed: ENOENT is 127, the rest 126, as Docker. */
export function execFailed(argv0: string, file: string, code: string): { message: string; exitCode: number } {
  if (code === 'ENOENT') return { message: `exec: "${argv0}": stat ${file}: no such file or directory`, exitCode: 127 };
  if (code === 'EACCES') return { message: `exec: "${argv0}": permission denied`, exitCode: 126 };
  return { message: `exec: "${argv0}": ${code}`, exitCode: 126 };
}

const SYSCTL_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory', EINVAL: 'invalid argument', EPERM: 'operation not permitted', EACCES: 'permission denied',
  EROFS: 'read-only file system', EBUSY: 'device or resource busy', ERANGE: 'numerical result out of range', ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
};

/** A sysctl the kernel refused, in runc's words as dockerd shows them: "open /proc/sys/net/ipv4/nope: no such file or directory". */
export const sysctlFailed = (call: string, file: string, code: string): string => `${call} ${file}: ${SYSCTL_TEXT[code] ?? code}`;
