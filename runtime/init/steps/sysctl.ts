// Sysctls (HostConfig.Sysctls and Docker's network defaults), written by the
// init once it is in the container's network, IPC and UTS namespaces and before
// any mount of the container's: /proc/sys resolves a namespaced entry to the
// namespaces of the process that opens it, so the init's /proc (still the
// daemon's procfs, read-write; the container's own /proc/sys is read-only) is
// the container's /proc/sys for every key the plan carries. The plan holds only
// keys runc allows for these namespaces (runtime/sysctl.ts), as paths of plain
// names under /proc/sys (no '.', '..' or empty component): nothing an image
// controls is on the path.
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';
import { sysctlFailed } from '../messages.js';

export function sysctls(ctx: InitContext): void {
  for (const s of ctx.plan.sysctls ?? []) {
    try {
      ctx.sys.writeProcFile(s.path, s.value);
    } catch (e) {
      const { syscall = 'write', errnoCode = 'EIO' } = e as { syscall?: string; errnoCode?: string };
      // runc's wording, as dockerd shows it: "open /proc/sys/net/ipv4/nope: no such file or directory"
      throw new InitError(sysctlFailed(syscall, s.path, errnoCode), 128, errnoCode);
    }
  }
}
