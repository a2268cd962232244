// Raw koffi bindings to libc. Only sys/ imports koffi; everything else goes
// through the typed, errno-checking wrappers in syscalls.ts.
import koffi from 'koffi';

let lib: ReturnType<typeof bind> | undefined;

function bind() {
  const c = koffi.load('libc.so.6');
  const winsize = koffi.struct('tsd_winsize', { ws_row: 'uint16', ws_col: 'uint16', ws_xpixel: 'uint16', ws_ypixel: 'uint16' });
  const rlimit = koffi.struct('tsd_rlimit', { rlim_cur: 'uint64', rlim_max: 'uint64' });
  const capHeader = koffi.struct('tsd_cap_header', { version: 'uint32', pid: 'int' });
  const capData = koffi.struct('tsd_cap_data', { effective: 'uint32', permitted: 'uint32', inheritable: 'uint32' });
  return {
    winsize,
    rlimit,
    capHeader,
    capData,
    mount: c.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: c.func('int umount2(const char *target, int flags)'),
    pivot_root: c.func('long syscall(long nr, const char *new_root, const char *put_old)'),
    unshare: c.func('int unshare(int flags)'),
    setns: c.func('int setns(int fd, int nstype)'),
    sethostname: c.func('int sethostname(const char *name, size_t len)'),
    setdomainname: c.func('int setdomainname(const char *name, size_t len)'),
    prctl: c.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    capget: c.func('int capget(tsd_cap_header *hdr, _Out_ tsd_cap_data *data)'),
    capset: c.func('int capset(tsd_cap_header *hdr, tsd_cap_data *data)'),
    setresuid: c.func('int setresuid(uint32 r, uint32 e, uint32 s)'),
    setresgid: c.func('int setresgid(uint32 r, uint32 e, uint32 s)'),
    setgroups: c.func('int setgroups(size_t size, uint32 *list)'),
    // the raw system calls (this thread only; glibc's wrappers above signal every thread: syscalls.ts)
    sys_setres: c.func('long syscall(long nr, uint32 r, uint32 e, uint32 s)'),
    sys_setgroups: c.func('long syscall(long nr, size_t size, uint32 *list)'),
    setrlimit: c.func('int setrlimit(int resource, tsd_rlimit *rlim)'),
    prlimit: c.func('int prlimit(int pid, int resource, tsd_rlimit *new_limit, _Out_ tsd_rlimit *old_limit)'),
    ioctl_int: c.func('int ioctl(int fd, unsigned long req, int arg)'),
    ioctl_intp: c.func('int ioctl(int fd, unsigned long req, _Inout_ int *arg)'),
    ioctl_winsize: c.func('int ioctl(int fd, unsigned long req, tsd_winsize *ws)'),
    fcntl: c.func('int fcntl(int fd, int cmd, int arg)'),
    execve: c.func('int execve(const char *path, const char **argv, const char **envp)'),
    chdir: c.func('int chdir(const char *path)'),
    chroot: c.func('int chroot(const char *path)'),
    mknod: c.func('int mknod(const char *path, uint32 mode, uint64 dev)'),
    lsetxattr: c.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)'),
    lgetxattr: c.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
    llistxattr: c.func('intptr_t llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
    setsid: c.func('int setsid()'),
    getpid: c.func('int getpid()'),
    getppid: c.func('int getppid()'),
    kill: c.func('int kill(int pid, int sig)'),
    umask: c.func('uint32 umask(uint32 mask)'),
    posix_openpt: c.func('int posix_openpt(int flags)'),
    grantpt: c.func('int grantpt(int fd)'),
    unlockpt: c.func('int unlockpt(int fd)'),
    ptsname_r: c.func('int ptsname_r(int fd, _Out_ char *buf, size_t len)'),
    close: c.func('int close(int fd)'),
    dup2: c.func('int dup2(int a, int b)'),
    open: c.func('int open(const char *path, int flags, uint32 mode)'),
  };
}

/** The libc bindings, loaded on first use (koffi.load costs a few ms). */
export function libc() {
  lib ??= bind();
  return lib;
}

export const errno = (): number => koffi.errno();
export { koffi };
