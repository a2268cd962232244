// tsd-nsexec: the exec fast path (docker exec, healthcheck probes). A small
// static program in the shape of runc's nsexec: the daemon spawns it into the
// container's PID namespace and writes it a plan on fd 3 (built by the
// TypeScript side, runtime/nsexec.ts); it executes the plan step by step and
// execve's the program. It decides nothing: every choice (the namespaces, the
// cgroup, capabilities, the seccomp program, the user) is in the plan, and the
// user is resolved by the daemon from the container's /etc files this program
// reads and sends back. A failure is reported on fd 3 as the step, the call and
// its errno; the daemon writes the message (the same as the Node init's).
//
// The steps and their order are runtime/init/steps.ts's exec steps:
// oom_score_adj, cgroup, join, cwd, bounding, user, cwd_user, raise_effective,
// tty, cloexec, parent_death, seccomp, capabilities, no_new_privs,
// seccomp_late, exec.
//
// Protocol (fd 3, a socketpair of the daemon's):
//   daemon -> helper: frames of a u32 (little-endian) length and "key=value\0" records
//   helper -> daemon: JSON lines: {"t":"step",...} (each step, for its deadline)
//                     {"t":"etc",...} {"t":"pty","fd":N} {"t":"fail",...}
//   execve closes fd 3 (close-on-exec): EOF with no "fail" means the program runs.
//
// Built by scripts/build-static.sh (gcc -static); see runtime/nsexec.ts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <net/if.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>
#include <grp.h>

#define PROTO_FD 3
#define ETC_FILE_MAX (4 * 1024 * 1024)
#define PLAN_MAX (64 * 1024 * 1024)
#define MAX_LIST 4096

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *step = "start";

// ---- output: JSON lines on fd 3 ----------------------------------------------

static char obuf[65536];
static size_t olen;

static void oflush(void) {
  size_t off = 0;
  while (off < olen) {
    ssize_t n = write(PROTO_FD, obuf + off, olen - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; // the daemon is gone: nothing else to tell
    }
    off += (size_t)n;
  }
  olen = 0;
}

static void oput(const char *s, size_t n) {
  while (n) {
    size_t k = sizeof(obuf) - olen < n ? sizeof(obuf) - olen : n;
    memcpy(obuf + olen, s, k);
    olen += k;
    s += k;
    n -= k;
    if (olen == sizeof(obuf)) oflush();
  }
}

static void ostr(const char *s) { oput(s, strlen(s)); }

/** A JSON string of bytes (invalid UTF-8 is left to the daemon's decoder, as the Node init's readFileSync). */
static void ojson(const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  oput("\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    oput(s + run, i - run);
    run = i + 1;
    if (c == '"') oput("\\\"", 2);
    else if (c == '\\') oput("\\\\", 2);
    else if (c == '\n') oput("\\n", 2);
    else if (c == '\t') oput("\\t", 2);
    else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      oput(e, 6);
    }
  }
  oput(s + run, n - run);
  oput("\"", 1);
}

static void onum(long long v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%lld", v);
  oput(b, (size_t)n);
}

/**
 * Announces a step (the daemon gives each a deadline and kills a helper that misses
 * one). Buffered: sent before a step that may block (a FIFO for a cgroup file or a
 * pty, a program on a stuck filesystem) and with the next message, so an exec wakes
 * the daemon three or four times rather than once per step.
 */
static void enter(const char *name, int may_block) {
  step = name;
  ostr("{\"t\":\"step\",\"step\":\"");
  ostr(name);
  ostr("\"}\n");
  if (may_block) oflush();
}

/** Reports a failed call of the current step and exits (the daemon kills us anyway). */
/** create: the mount op being run (its index in the plan's list), and what kind of failure a call's is (see describeFailure). */
static int cur_op = -1;
static const char *fail_kind;
/** A failure's own words inside that kind (a symlink loop, a directory where a file goes, the /dev/null check). */
static const char *fail_inner;
/** Set while a failure is not to be reported (the create cwd's mkdir, whose failure the user step reports): fail() jumps here. */
static jmp_buf *soft_fail;

__attribute__((noreturn)) static void fail(const char *call, int err, const char *path, const char *detail) {
  if (soft_fail) longjmp(*soft_fail, 1);
  ostr("{\"t\":\"fail\",\"step\":");
  ojson(step, strlen(step));
  ostr(",\"call\":");
  ojson(call, strlen(call));
  ostr(",\"errno\":");
  onum(err);
  if (path) {
    ostr(",\"path\":");
    ojson(path, strlen(path));
  }
  if (detail) {
    ostr(",\"detail\":");
    ojson(detail, strlen(detail));
  }
  if (cur_op >= 0) {
    ostr(",\"op\":");
    onum(cur_op);
  }
  if (fail_kind) {
    ostr(",\"kind\":");
    ojson(fail_kind, strlen(fail_kind));
  }
  if (fail_inner) {
    ostr(",\"inner\":");
    ojson(fail_inner, strlen(fail_inner));
  }
  ostr("}\n");
  oflush();
  _exit(1);
}

// ---- input: frames of key=value records -------------------------------------

static int readfull(int fd, void *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, (char *)buf + off, n - off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return -1;
    off += (size_t)r;
  }
  return 0;
}

struct frame { char *data; size_t len; };

/** The next frame; exits quietly at EOF (the daemon went away). */
static struct frame next_frame(void) {
  uint8_t h[4];
  if (readfull(PROTO_FD, h, 4) < 0) _exit(1);
  size_t len = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
  if (len > PLAN_MAX) fail("read", EMSGSIZE, NULL, "plan");
  char *d = malloc(len + 1);
  if (!d) fail("malloc", ENOMEM, NULL, NULL);
  if (readfull(PROTO_FD, d, len) < 0) _exit(1);
  d[len] = 0;
  return (struct frame){d, len};
}

/** Iterates "key=value\0" records: returns the value of the next record and sets *key, or NULL at the end. */
static char *next_record(struct frame *f, size_t *pos, char **key) {
  while (*pos < f->len) {
    char *rec = f->data + *pos;
    size_t n = strnlen(rec, f->len - *pos);
    *pos += n + 1;
    char *eq = memchr(rec, '=', n);
    if (!eq) continue;
    *eq = 0;
    *key = rec;
    return eq + 1;
  }
  return NULL;
}

// ---- the plan ----------------------------------------------------------------

struct join { int type; char *path; };

/** create: one filesystem operation (a MountOp of the plan): its kind and its records, rk/rv[first..last). */
struct op { char *type; int first, last; };
struct rlim { int resource; uint64_t soft, hard; };

/** The frame's records, in order (create mode's ops refer to ranges of them). */
static char **rk, **rv;
static int nrec;

static struct {
  int has_oom, oom;
  char *cgroups[MAX_LIST]; int ncgroups;
  char cgself[MAX_LIST]; // 1: a cgroup v1 `tasks` file, written "0" (this thread) instead of the pid
  struct join joins[16]; int njoins;
  char *root;
  char *cwd;
  uint64_t caps; int lastcap;
  int nnp;
  uint8_t *bpf; size_t bpflen;
  int tty, rows, cols;
  char **env; int nenv;
  char **argv; int nargv;
  // create mode (runtime/init/steps.ts's create steps)
  int create;
  int stdinnull;
  int net; char *netjoin; // 0 host, 1 new (lo up), 2 setns to netjoin
  int unshare;
  char *hostname, *domainname;
  char **sysctl_path, **sysctl_val; int nsysctl;
  char *rootfs;
  struct op *ops; int nops;
  int rofs;
  struct rlim *rlimits; int nrlimits;
} plan;

static int nstype(const char *t) {
  if (!strcmp(t, "ipc")) return CLONE_NEWIPC;
  if (!strcmp(t, "uts")) return CLONE_NEWUTS;
  if (!strcmp(t, "net")) return CLONE_NEWNET;
  if (!strcmp(t, "cgroup")) return CLONE_NEWCGROUP;
  if (!strcmp(t, "mnt")) return CLONE_NEWNS;
  if (!strcmp(t, "pid")) return CLONE_NEWPID;
  return 0;
}

static int unhex(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static void parse_plan(struct frame *f) {
  size_t pos = 0;
  char *k, *v;
  plan.lastcap = 40;
  size_t cap = f->len / 2 + 2;
  plan.env = calloc(cap, sizeof(char *));
  plan.argv = calloc(cap, sizeof(char *));
  rk = calloc(cap, sizeof(char *));
  rv = calloc(cap, sizeof(char *));
  plan.sysctl_path = calloc(cap, sizeof(char *));
  plan.sysctl_val = calloc(cap, sizeof(char *));
  plan.ops = calloc(cap, sizeof(struct op));
  plan.rlimits = calloc(cap, sizeof(struct rlim));
  if (!plan.env || !plan.argv || !rk || !rv || !plan.sysctl_path || !plan.sysctl_val || !plan.ops || !plan.rlimits) fail("malloc", ENOMEM, NULL, NULL);
  while ((v = next_record(f, &pos, &k))) { rk[nrec] = k; rv[nrec++] = v; }
  struct op *open_op = NULL;
  for (int i = 0; i < nrec; i++) {
    k = rk[i];
    v = rv[i];
    if (open_op) {
      // an op's records are all "o."-prefixed; anything else ends it
      if (!strncmp(k, "o.", 2)) continue;
      open_op->last = i;
      open_op = NULL;
    }
    if (!strcmp(k, "oom")) { plan.has_oom = 1; plan.oom = atoi(v); }
    else if (!strcmp(k, "cgroup") || !strcmp(k, "cgtask")) {
      if (plan.ncgroups < MAX_LIST) { plan.cgself[plan.ncgroups] = !strcmp(k, "cgtask"); plan.cgroups[plan.ncgroups++] = v; }
    }
    else if (!strcmp(k, "join")) {
      char *c = strchr(v, ':');
      if (!c || plan.njoins >= 16) fail("plan", EINVAL, NULL, "join");
      *c = 0;
      plan.joins[plan.njoins].type = nstype(v);
      plan.joins[plan.njoins++].path = c + 1;
    }
    else if (!strcmp(k, "root")) plan.root = v;
    else if (!strcmp(k, "cwd")) plan.cwd = v;
    else if (!strcmp(k, "caps")) plan.caps = strtoull(v, NULL, 16);
    else if (!strcmp(k, "lastcap")) plan.lastcap = atoi(v);
    else if (!strcmp(k, "nnp")) plan.nnp = atoi(v);
    else if (!strcmp(k, "bpf")) {
      size_t n = strlen(v) / 2;
      plan.bpf = malloc(n ? n : 1);
      if (!plan.bpf) fail("malloc", ENOMEM, NULL, NULL);
      for (size_t j = 0; j < n; j++) {
        int hi = unhex(v[2 * j]), lo = unhex(v[2 * j + 1]);
        if (hi < 0 || lo < 0) fail("plan", EINVAL, NULL, "bpf");
        plan.bpf[j] = (uint8_t)(hi << 4 | lo);
      }
      plan.bpflen = n;
    }
    else if (!strcmp(k, "tty")) plan.tty = atoi(v);
    else if (!strcmp(k, "console")) sscanf(v, "%dx%d", &plan.rows, &plan.cols);
    else if (!strcmp(k, "env")) plan.env[plan.nenv++] = v;
    else if (!strcmp(k, "arg")) plan.argv[plan.nargv++] = v;
    else if (!strcmp(k, "mode")) plan.create = !strcmp(v, "create");
    else if (!strcmp(k, "stdinnull")) plan.stdinnull = atoi(v);
    else if (!strcmp(k, "net")) plan.net = !strcmp(v, "new") ? 1 : 0;
    else if (!strcmp(k, "netjoin")) { plan.net = 2; plan.netjoin = v; }
    else if (!strcmp(k, "unshare")) plan.unshare = (int)strtoul(v, NULL, 16);
    else if (!strcmp(k, "hostname")) plan.hostname = v;
    else if (!strcmp(k, "domainname")) plan.domainname = v;
    else if (!strcmp(k, "sysctl")) plan.sysctl_path[plan.nsysctl] = v;
    else if (!strcmp(k, "sysctlv")) plan.sysctl_val[plan.nsysctl++] = v;
    else if (!strcmp(k, "rootfs")) plan.rootfs = v;
    else if (!strcmp(k, "op")) {
      open_op = &plan.ops[plan.nops++];
      open_op->type = v;
      open_op->first = i + 1;
      open_op->last = nrec;
    }
    else if (!strcmp(k, "rofs")) plan.rofs = atoi(v);
    else if (!strcmp(k, "rlimit")) {
      struct rlim *r = &plan.rlimits[plan.nrlimits++];
      unsigned long long s = 0, h = 0;
      if (sscanf(v, "%d:%llu:%llu", &r->resource, &s, &h) != 3) fail("plan", EINVAL, NULL, "rlimit");
      r->soft = s;
      r->hard = h;
    }
  }
  if (plan.nargv == 0 || !plan.cwd) fail("plan", EINVAL, NULL, "incomplete");
  if (plan.create && !plan.rootfs) fail("plan", EINVAL, NULL, "rootfs");
}

/** The value of an op's record `key` (its first), or NULL. */
static char *op_attr(const struct op *o, const char *key) {
  for (int i = o->first; i < o->last; i++) if (!strcmp(rk[i] + 2, key)) return rv[i];
  return NULL;
}

// ---- helpers -----------------------------------------------------------------

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) fail("malloc", ENOMEM, NULL, NULL);
  va_end(ap);
  return s;
}

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = 0, .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static struct __user_cap_header_struct caphdr = {_LINUX_CAPABILITY_VERSION_3, 0};

static void capget3(struct __user_cap_data_struct d[2]) {
  if (syscall(SYS_capget, &caphdr, d) < 0) fail("capget", errno, NULL, NULL);
}

static void capset3(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_data_struct d[2] = {
    {(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
    {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
  };
  if (syscall(SYS_capset, &caphdr, d) < 0) fail("capset", errno, NULL, NULL);
}

static void prctl_or_fail(int opt, unsigned long a2) {
  if (prctl(opt, a2, 0, 0, 0) < 0) {
    char d[16];
    snprintf(d, sizeof d, "%d", opt);
    fail("prctl", errno, NULL, d);
  }
}

static void load_seccomp(void) {
  if (!plan.bpflen) return;
  if (plan.bpflen % 8) fail("prctl", EINVAL, NULL, "PR_SET_SECCOMP");
  struct sock_fprog prog = {.len = (unsigned short)(plan.bpflen / 8), .filter = (struct sock_filter *)plan.bpf};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) fail("prctl", errno, NULL, "PR_SET_SECCOMP");
}

/** The container's cwd from its "/" (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, as the Node init): 0 or an errno. */
static int chdir_to_cwd(void) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return errno;
  int fd = sys_openat2(root, plan.cwd, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  int err = fd < 0 ? errno : 0;
  close(root);
  if (fd < 0) return err;
  err = fchdir(fd) < 0 ? errno : 0;
  close(fd);
  return err;
}

/**
 * A file of the container's /etc, bounded (a regular file of at most ETC_FILE_MAX
 * bytes, opened O_NONBLOCK inside its root: a FIFO never blocks); *out NULL when missing.
 */
static size_t read_etc(const char *path, char **out) {
  *out = NULL;
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) fail("open", errno, "/", NULL);
  int fd = sys_openat2(root, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  int err = errno;
  close(root);
  if (fd < 0) {
    if (err == ENOENT || err == ENOTDIR) return 0;
    fail("open", err, path, NULL);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) fail("fstat", errno, path, NULL);
  if (!S_ISREG(st.st_mode)) fail("read", EINVAL, path, "not a regular file");
  if (st.st_size > ETC_FILE_MAX) fail("read", EFBIG, path, "too large");
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) fail("malloc", ENOMEM, NULL, NULL);
  size_t len = 0;
  for (;;) {
    if (len == (size_t)st.st_size + 1) fail("read", EFBIG, path, "too large"); // grew while read
    ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read", errno, path, NULL);
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  *out = buf;
  return len;
}

static int has_env(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < plan.nenv; i++) if (!strncmp(plan.env[i], name, n) && plan.env[i][n] == '=') return 1;
  return 0;
}

static const char *getenv_plan(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < plan.nenv; i++) if (!strncmp(plan.env[i], name, n) && plan.env[i][n] == '=') return plan.env[i] + n + 1;
  return NULL;
}

/** Go's exec.LookPath as runc uses it: a name with a slash as is, else the first regular executable on PATH. */
static char *look_path(const char *file) {
  if (strchr(file, '/')) return (char *)file;
  const char *p = getenv_plan("PATH");
  if (!p) p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // strsep keeps empty elements ("" means "."), as Go's filepath.SplitList
  char *copy = strdup(p);
  if (!copy) fail("malloc", ENOMEM, NULL, NULL);
  char *rest = copy;
  char *d;
  while ((d = strsep(&rest, ":")) != NULL) {
    char *cand = xasprintf("%s/%s", *d ? d : ".", file);
    struct stat st;
    if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) return cand;
    free(cand);
  }
  fail("lookpath", ENOENT, file, NULL);
}

// ---- the steps ---------------------------------------------------------------

static uid_t uid;
static gid_t gid;

static void step_oom(void) {
  enter("oom_score_adj", 0);
  if (!plan.has_oom) return;
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("write", errno, "/proc/self/oom_score_adj", NULL);
  char b[16];
  int n = snprintf(b, sizeof b, "%d", plan.oom);
  if (write(fd, b, (size_t)n) < 0) fail("write", errno, "/proc/self/oom_score_adj", NULL);
  close(fd);
}

// A cgroup v1 `tasks` file (cgtask) is written "0": the writing thread, which is all of this
// single-threaded helper. The kernel then moves one thread and skips the threadgroup lock
// (cgroup_procs_write_start), whose write side waits for an RCU grace period (~10-15 ms per
// exec; writing our pid to cgroup.procs takes it). The result is the same: the process in the cgroup.
static void step_cgroup(void) {
  enter("cgroup", plan.ncgroups > 0);
  char b[16];
  int n = snprintf(b, sizeof b, "%d", (int)getpid());
  for (int i = 0; i < plan.ncgroups; i++) {
    int fd = open(plan.cgroups[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("open", errno, plan.cgroups[i], NULL);
    if (plan.cgself[i] ? write(fd, "0", 1) < 0 : write(fd, b, (size_t)n) < 0) fail("write", errno, plan.cgroups[i], NULL);
    close(fd);
  }
}

static void step_join(void) {
  enter("join", 0);
  int fds[16];
  for (int i = 0; i < plan.njoins; i++) {
    fds[i] = open(plan.joins[i].path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) fail("open-ns", errno, plan.joins[i].path, NULL);
  }
  int rootfd = -1;
  if (plan.root) {
    rootfd = open(plan.root, O_RDONLY | O_CLOEXEC);
    if (rootfd < 0) fail("open", errno, plan.root, NULL);
  }
  for (int i = 0; i < plan.njoins; i++) {
    if (setns(fds[i], plan.joins[i].type) < 0) {
      char d[16];
      snprintf(d, sizeof d, "0x%x", plan.joins[i].type);
      fail("setns", errno, NULL, d);
    }
    close(fds[i]);
  }
  if (rootfd >= 0) {
    if (fchdir(rootfd) < 0) fail("fchdir", errno, NULL, NULL);
    if (chroot(".") < 0) fail("chroot", errno, ".", NULL);
    if (chdir("/") < 0) fail("chdir", errno, "/", NULL);
    close(rootfd);
  }
}

static void step_bounding(void) {
  enter("bounding", 0);
  for (int c = 0; c <= plan.lastcap; c++) {
    if (c < 64 && (plan.caps >> c) & 1) continue;
    prctl_or_fail(PR_CAPBSET_DROP, (unsigned long)c);
  }
}

/** Sends the container's /etc/passwd and /etc/group; the daemon answers with the resolved identity. */
static void step_user(void) {
  enter("user", 0);
  char *passwd, *group;
  size_t np = read_etc("/etc/passwd", &passwd);
  size_t ng = read_etc("/etc/group", &group);
  ostr("{\"t\":\"etc\",\"passwd\":");
  if (passwd) ojson(passwd, np); else ostr("null");
  ostr(",\"group\":");
  if (group) ojson(group, ng); else ostr("null");
  ostr("}\n");
  oflush();
  free(passwd);
  free(group);
  struct frame f = next_frame();
  size_t pos = 0;
  char *k, *v;
  gid_t *groups = calloc(MAX_LIST, sizeof(gid_t));
  int ngroups = 0;
  char *home = NULL;
  int got = 0;
  while ((v = next_record(&f, &pos, &k))) {
    if (!strcmp(k, "uid")) { uid = (uid_t)strtoul(v, NULL, 10); got |= 1; }
    else if (!strcmp(k, "gid")) { gid = (gid_t)strtoul(v, NULL, 10); got |= 2; }
    else if (!strcmp(k, "group")) { if (ngroups < MAX_LIST) groups[ngroups++] = (gid_t)strtoul(v, NULL, 10); }
    else if (!strcmp(k, "home")) home = v;
  }
  if (got != 3) fail("plan", EINVAL, NULL, "user");
  if (home && !has_env("HOME")) plan.env[plan.nenv++] = xasprintf("HOME=%s", home);
  prctl_or_fail(PR_SET_KEEPCAPS, 1);
  if (setgroups((size_t)ngroups, ngroups ? groups : NULL) < 0) fail("setgroups", errno, NULL, NULL);
  char d[16];
  snprintf(d, sizeof d, "%u", gid);
  if (setresgid(gid, gid, gid) < 0) fail("setresgid", errno, NULL, d);
  snprintf(d, sizeof d, "%u", uid);
  if (setresuid(uid, uid, uid) < 0) fail("setresuid", errno, NULL, d);
}

static void step_raise_effective(void) {
  enter("raise_effective", 0);
  if (uid == 0) return;
  struct __user_cap_data_struct c[2];
  capget3(c);
  uint64_t perm = (uint64_t)c[0].permitted | (uint64_t)c[1].permitted << 32;
  capset3(perm, perm, 0);
}

static void bind_console(int slave);

/** A pty of the container's devpts, the slave on fds 0-2 as controlling terminal; the daemon copies the master. */
static void step_tty(void) {
  enter("tty", plan.tty);
  if (!plan.tty) return;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("open", errno, "/dev/ptmx", NULL);
  int zero = 0, n = 0;
  if (ioctl(master, TIOCSPTLCK, &zero) < 0) fail("ioctl", errno, "/dev/ptmx", "TIOCSPTLCK");
  if (ioctl(master, TIOCGPTN, &n) < 0) fail("ioctl", errno, "/dev/ptmx", "TIOCGPTN");
  if (plan.rows > 0 && plan.cols > 0) {
    struct winsize ws = {.ws_row = (unsigned short)plan.rows, .ws_col = (unsigned short)plan.cols};
    if (ioctl(master, TIOCSWINSZ, &ws) < 0) fail("ioctl", errno, NULL, "TIOCSWINSZ");
  }
  char *slave_path = xasprintf("/dev/pts/%d", n);
  int slave = open(slave_path, O_RDWR | O_NOCTTY);
  if (slave < 0) fail("open", errno, slave_path, NULL);
  for (int fd = 0; fd <= 2; fd++) if (dup2(slave, fd) < 0) fail("dup2", errno, NULL, NULL);
  if (plan.create) bind_console(slave);
  close(slave);
  if (ioctl(0, TIOCSCTTY, 0) < 0) fail("ioctl", errno, NULL, "0x540e");
  ostr("{\"t\":\"pty\",\"fd\":");
  onum(master);
  ostr("}\n");
  oflush();
  struct frame f = next_frame();
  size_t pos = 0;
  char *k, *v;
  int acked = 0;
  while ((v = next_record(&f, &pos, &k))) if (!strcmp(k, "ack") && !strcmp(v, "pty")) acked = 1;
  if (!acked) fail("pty", EPROTO, NULL, NULL);
  close(master);
}

static void step_capabilities(void) {
  enter("capabilities", 0);
  struct __user_cap_data_struct c[2];
  capget3(c);
  uint64_t perm = (uint64_t)c[0].permitted | (uint64_t)c[1].permitted << 32;
  uint64_t mask = plan.caps & perm;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail("prctl", errno, NULL, "47");
  capset3(mask, mask, 0);
}

__attribute__((noreturn)) static void step_exec(void) {
  enter("exec", 1);
  char *file = look_path(plan.argv[0]);
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  plan.argv[plan.nargv] = NULL;
  plan.env[plan.nenv] = NULL;
  execve(file, plan.argv, plan.env);
  fail("execve", errno, file, NULL);
}

// ---- create mode -------------------------------------------------------------
// The steps of runtime/init/steps.ts with mode 'create', as the Node init runs them
// (runtime/init/steps/*.ts): every destination in the rootfs resolved through the
// rootfs fd (openat2 RESOLVE_IN_ROOT; missing directories made one component at a
// time), every mount made from and onto fds (fsmount, open_tree, move_mount,
// mount_setattr): no path string the image controls is handed to mount(2).

#define RESOLVE_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif
#define NR_fchmodat2 452

static int rootfd = -1;

/** runtime/init's oomScoreAdj's sibling: sysctl files, written as runc writes them (Node's 'w': O_WRONLY|O_CREAT|O_TRUNC). */
static void write_proc(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail("open", errno, path, NULL);
  size_t n = strlen(value);
  ssize_t w = write(fd, value, n);
  if (w < 0) fail("write", errno, path, NULL);
  close(fd);
}

static int sys_open_tree(int dfd, const char *p, int rec) {
  return (int)syscall(SYS_open_tree, dfd, p, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0) | (*p ? 0 : AT_EMPTY_PATH));
}

/** open_tree as fsat.openTree (the error names the path, or the fd). */
static int xopen_tree(int dfd, const char *p, int rec) {
  int fd = sys_open_tree(dfd, p, rec);
  if (fd < 0) {
    int e = errno;
    char b[24];
    snprintf(b, sizeof b, "fd %d", dfd);
    fail("open_tree", e, *p ? p : b, NULL);
  }
  return fd;
}

static void xmove_mount(int from, int to) {
  if (syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) fail("move_mount", errno, NULL, NULL);
}

static void xmount_setattr(int fd, uint64_t set, uint64_t clr, uint64_t prop, int rec) {
  struct mount_attr a = {.attr_set = set, .attr_clr = clr, .propagation = prop, .userns_fd = 0};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof a) < 0) fail("mount_setattr", errno, NULL, NULL);
}

/** mount(2) flags as MOUNT_ATTR_* bits (fsat.mountAttrs). */
static uint64_t ms_attrs(unsigned long f) {
  uint64_t a = 0;
  if (f & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (f & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (f & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (f & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (f & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
  if (f & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (f & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
  return a;
}

/** A new filesystem instance as a detached mount fd (fsat.fsMount): `data` is mount(2)'s comma list. */
static int fs_mount(const char *fstype, const char *source, const char *data, uint64_t attrs) {
  int fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
  if (fs < 0) fail("fsopen", errno, fstype, NULL);
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", source, 0) < 0) fail("fsconfig", errno, fstype, "source");
  if (data && *data) {
    char *copy = strdup(data);
    if (!copy) fail("malloc", ENOMEM, NULL, NULL);
    char *rest = copy, *o;
    while ((o = strsep(&rest, ",")) != NULL) {
      if (!*o) continue;
      char *eq = strchr(o, '=');
      long r;
      if (!eq) r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, o, NULL, 0);
      else {
        *eq = 0;
        r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, o, eq + 1, 0);
        *eq = '=';
      }
      if (r < 0) fail("fsconfig", errno, fstype, o);
    }
    free(copy);
  }
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) fail("fsconfig", errno, fstype, "create");
  int m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
  if (m < 0) fail("fsmount", errno, fstype, NULL);
  close(fs);
  return m;
}

/** rootfs' inRoot: the container path cleaned ("/" + p, posix-normalized) and made relative ("." for the root). */
static char *in_root(const char *p) {
  size_t n = strlen(p);
  char *out = malloc(n + 2);
  char *copy = strdup(p);
  if (!out || !copy) fail("malloc", ENOMEM, NULL, NULL);
  size_t len = 0;
  char *rest = copy, *c;
  while ((c = strsep(&rest, "/")) != NULL) {
    if (!*c || !strcmp(c, ".")) continue;
    if (!strcmp(c, "..")) {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      continue;
    }
    if (len) out[len++] = '/';
    memcpy(out + len, c, strlen(c));
    len += strlen(c);
  }
  free(copy);
  if (!len) out[len++] = '.';
  out[len] = 0;
  return out;
}

/** openat2 from the rootfs fd (EAGAIN, a raced walk, retried as fsat.openat2): fd or -1 and errno. */
static int root_open(const char *rel, uint64_t flags) {
  for (int i = 0;; i++) {
    int fd = sys_openat2(rootfd, rel, flags | O_CLOEXEC, RESOLVE_ROOT);
    if (fd >= 0 || errno != EAGAIN || i >= 64) return fd;
  }
}

/** Root.openFd: a container path opened from the rootfs fd; fails as the Node init's openat2 (its path relative). */
static int xroot_open(const char *p, uint64_t flags) {
  char *rel = in_root(p);
  int fd = root_open(rel, flags);
  if (fd < 0) fail("openat2", errno, rel, NULL);
  free(rel);
  return fd;
}

/** A growable list of path components. */
struct parts { char **v; int n, cap; };

static void parts_push(struct parts *l, char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, (size_t)l->cap * sizeof(char *));
    if (!l->v) fail("malloc", ENOMEM, NULL, NULL);
  }
  l->v[l->n++] = s;
}

/** Pushes the components of `p` (without "" and ".") in reverse, so the stack pops them in order. */
static void push_reversed(struct parts *stack, const char *p) {
  char *copy = strdup(p);
  if (!copy) fail("malloc", ENOMEM, NULL, NULL);
  struct parts tmp = {0};
  char *rest = copy, *c;
  while ((c = strsep(&rest, "/")) != NULL) if (*c && strcmp(c, ".")) parts_push(&tmp, strdup(c));
  for (int i = tmp.n - 1; i >= 0; i--) parts_push(stack, tmp.v[i]);
  free(tmp.v);
  free(copy);
}

static char *join_parts(struct parts *l, const char *last, int lead) {
  size_t n = 2 + (last ? strlen(last) + 1 : 0);
  for (int i = 0; i < l->n; i++) n += strlen(l->v[i]) + 1;
  char *s = malloc(n);
  if (!s) fail("malloc", ENOMEM, NULL, NULL);
  size_t len = 0;
  if (lead) s[len++] = '/';
  for (int i = 0; i < l->n; i++) {
    if (len && s[len - 1] != '/') s[len++] = '/';
    memcpy(s + len, l->v[i], strlen(l->v[i]));
    len += strlen(l->v[i]);
  }
  if (last) {
    if (len && s[len - 1] != '/') s[len++] = '/';
    memcpy(s + len, last, strlen(last));
    len += strlen(last);
  }
  s[len] = 0;
  return s;
}

/**
 * Root.resolvedPath: the container path `p` ends at once its symlinks are followed
 * inside the root (through fds: openat2 of each prefix, not following it, and
 * readlinkat of that fd), as far as they exist.
 */
static char *resolved_path(const char *p, int follow_last) {
  char *rel = in_root(p);
  struct parts stack = {0}, out = {0};
  push_reversed(&stack, rel);
  free(rel);
  int hops = 0;
  while (stack.n) {
    char *part = stack.v[--stack.n];
    if (!strcmp(part, "..")) {
      if (out.n) free(out.v[--out.n]);
      free(part);
      continue;
    }
    char *cand = join_parts(&out, part, 0);
    int fd = root_open(cand, O_PATH | O_NOFOLLOW);
    struct stat st;
    int islink = fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
    if (islink && (stack.n > 0 || follow_last)) {
      if (++hops > 255) { fail_inner = "symlinks"; fail("resolve", ELOOP, p, NULL); }
      char target[4097];
      ssize_t n = readlinkat(fd, "", target, sizeof target);
      if (n < 0) fail("readlinkat", errno, "", NULL);
      target[n < 4096 ? n : 4096] = 0;
      close(fd);
      if (target[0] == '/') while (out.n) free(out.v[--out.n]);
      push_reversed(&stack, target);
      free(part);
      free(cand);
      continue;
    }
    if (fd >= 0) close(fd);
    free(cand);
    parts_push(&out, part);
  }
  char *r = join_parts(&out, NULL, 1);
  for (int i = 0; i < out.n; i++) free(out.v[i]);
  free(out.v);
  free(stack.v);
  return r;
}

/** With avoid_procfs: refuses a directory on procfs or sysfs (the create cwd). */
static int guard_procfs(int fd, int avoid) {
  if (!avoid) return fd;
  struct statfs sf;
  if (fstatfs(fd, &sf) == 0 && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)) {
    close(fd);
    fail_inner = "procfs";
    fail("mkdir", EINVAL, NULL, NULL);
  }
  return fd;
}

/**
 * Root.mkdirAll: mkdir -p inside the rootfs, symlinks followed first (resolved_path),
 * then every component opened without following (a symlink raced in makes this
 * fail, never escape), missing ones created with `mode`. An O_PATH fd of the directory.
 */
static int mkdir_all(const char *p, mode_t mode, int avoid_procfs) {
  char *rel = in_root(p);
  int depth = 1;
  for (char *c = rel; *c; c++) depth += *c == '/';
  free(rel);
  if (depth > 255) { fail_inner = "deep"; fail("mkdir", ENAMETOOLONG, p, NULL); }
  char *res = resolved_path(p, 1);
  struct parts parts = {0};
  push_reversed(&parts, res);
  free(res);
  int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) fail("openat", errno, ".", NULL);
  cur = guard_procfs(cur, avoid_procfs);
  while (parts.n) {
    char *name = parts.v[--parts.n];
    int next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      if (errno != ENOENT) fail("openat", errno, name, NULL);
      if (mkdirat(cur, name, mode) < 0 && errno != EEXIST) fail("mkdirat", errno, name, NULL);
      next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) fail("openat", errno, name, NULL);
    }
    close(cur);
    cur = guard_procfs(next, avoid_procfs);
    free(name);
  }
  free(parts.v);
  return cur;
}

/** path.posix.dirname and basename of a container path. */
static void split_path(const char *p, char **dir, char **base) {
  char *c = strdup(p);
  if (!c) fail("malloc", ENOMEM, NULL, NULL);
  size_t n = strlen(c);
  while (n > 1 && c[n - 1] == '/') c[--n] = 0;
  char *slash = strrchr(c, '/');
  if (!slash) { *dir = strdup("."); *base = strdup(c); }
  else {
    *base = strdup(slash + 1);
    if (slash == c) *dir = strdup("/");
    else { *slash = 0; *dir = strdup(c); }
  }
  free(c);
}

static int parent_fd(const char *dest, char **base) {
  char *dir;
  split_path(dest, &dir, base);
  int fd = mkdir_all(dir, 0755, 0);
  free(dir);
  return fd;
}

/** lstat of (dirfd, name): 1 and *st, or 0 when missing. */
static int lstat_at(int dirfd, const char *name, struct stat *st) {
  if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0) return 1;
  if (errno != ENOENT) fail("statx", errno, name, NULL);
  return 0;
}

/** realDir: anything but a directory at (dirfd, name) replaced by a directory. */
static int real_dir(int dirfd, const char *name) {
  struct stat st;
  int exists = lstat_at(dirfd, name, &st);
  if (exists && !S_ISDIR(st.st_mode) && unlinkat(dirfd, name, 0) < 0) fail("unlinkat", errno, name, NULL);
  if ((!exists || !S_ISDIR(st.st_mode)) && mkdirat(dirfd, name, 0755) < 0) fail("mkdirat", errno, name, NULL);
  int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("openat", errno, name, NULL);
  return fd;
}

/** fileAt: anything but a regular file at (dirfd, name) replaced by an empty one (a directory refused). */
static int file_at(int dirfd, const char *name, mode_t mode) {
  struct stat st;
  int exists = lstat_at(dirfd, name, &st);
  if (exists && S_ISDIR(st.st_mode)) { fail_inner = "isdir"; fail("statx", EISDIR, name, NULL); }
  if (exists && !S_ISREG(st.st_mode) && unlinkat(dirfd, name, 0) < 0) fail("unlinkat", errno, name, NULL);
  if (!exists || !S_ISREG(st.st_mode)) {
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) fail("openat", errno, name, NULL);
    close(fd);
  }
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("openat", errno, name, NULL);
  return fd;
}

static const char *INIT_LAYER_DIRS[] = {"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/proc", "/sys", NULL};
static const char *INIT_LAYER_FILES[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/console", NULL};

static int in_list(const char **l, const char *s) {
  for (; *l; l++) if (!strcmp(*l, s)) return 1;
  return 0;
}

/** The mount target `dest` as an O_PATH fd (rootfs.ts target()): init-layer paths made real, others resolved in the root and created as `kind` when missing. */
static int mount_target(const char *dest, const char *kind) {
  int idir = in_list(INIT_LAYER_DIRS, dest), ifile = in_list(INIT_LAYER_FILES, dest);
  if (idir || ifile) {
    char *base;
    int p = parent_fd(dest, &base);
    int fd = idir ? real_dir(p, base) : file_at(p, base, 0644);
    close(p);
    free(base);
    return fd;
  }
  char *rel = in_root(dest);
  int fd = root_open(rel, O_PATH);
  if (fd >= 0) { free(rel); return fd; }
  if (errno != ENOENT || !strcmp(kind, "none")) fail("openat2", errno, rel, NULL);
  if (!strcmp(kind, "dir")) { free(rel); return mkdir_all(dest, 0755, 0); }
  char *base;
  int p = parent_fd(dest, &base);
  int f = openat(p, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (f < 0 && errno != EEXIST) fail("openat", errno, base, NULL);
  if (f >= 0) close(f);
  fd = root_open(rel, O_PATH);
  if (fd < 0) fail("openat2", errno, rel, NULL);
  close(p);
  free(base);
  free(rel);
  return fd;
}

static unsigned long num(const struct op *o, const char *key) {
  char *v = op_attr(o, key);
  return v ? strtoul(v, NULL, 10) : 0;
}

#define PROPAGATION_TYPES (MS_PRIVATE | MS_SHARED | MS_SLAVE | MS_UNBINDABLE)

/** A 'mount' op: create 'missing' is a bind source the daemon found missing (reported here, in its turn). */
static void op_mount(const struct op *o) {
  char *src = op_attr(o, "src"), *dst = op_attr(o, "dst"), *fstype = op_attr(o, "fstype"), *create = op_attr(o, "create");
  unsigned long flags = num(o, "flags");
  if (!dst || !create) fail("plan", EINVAL, NULL, "mount");
  if (!strcmp(create, "missing")) { fail_inner = "nosource"; fail("stat", ENOENT, src, NULL); }
  fail_kind = "mount";
  int t = mount_target(dst, create);
  int m;
  if (flags & MS_BIND) {
    // a host path the daemon chose (bind source, volume, /etc file): trusted
    if (!src) fail("plan", EINVAL, NULL, "bind");
    m = xopen_tree(AT_FDCWD, src, (flags & MS_REC) != 0);
    char *remount = op_attr(o, "remount");
    if (remount) xmount_setattr(m, ms_attrs(strtoul(remount, NULL, 10)), 0, 0, 1);
  } else {
    if (!fstype) fail("plan", EINVAL, NULL, "fstype");
    m = fs_mount(fstype, src ? src : fstype, op_attr(o, "data"), ms_attrs(flags));
  }
  xmove_mount(m, t);
  char *prop = op_attr(o, "prop");
  if (prop) {
    unsigned long pr = strtoul(prop, NULL, 10);
    if (pr & PROPAGATION_TYPES) xmount_setattr(m, 0, 0, pr & PROPAGATION_TYPES, (pr & MS_REC) != 0);
  }
  close(m);
  close(t);
  fail_kind = NULL;
}

static void op_mknod(const struct op *o) {
  char *dst = op_attr(o, "dst"), *base;
  if (!dst) fail("plan", EINVAL, NULL, "mknod");
  int p = parent_fd(dst, &base);
  char *owner = op_attr(o, "owner");
  if (owner && unlinkat(p, base, 0) < 0 && errno != ENOENT) fail("unlinkat", errno, base, NULL);
  mode_t old = umask(0);
  if (mknodat(p, base, (mode_t)num(o, "mode"), makedev(num(o, "major"), num(o, "minor"))) < 0) {
    fail_kind = "mknod";
    fail("mknodat", errno, base, NULL);
  }
  umask(old);
  if (owner) {
    unsigned u = 0, g = 0;
    sscanf(owner, "%u:%u", &u, &g);
    if (fchownat(p, base, u, g, AT_SYMLINK_NOFOLLOW) < 0) fail("fchownat", errno, base, NULL);
  }
  close(p);
  free(base);
}

static void op_symlink(const struct op *o) {
  char *dst = op_attr(o, "dst"), *target = op_attr(o, "target"), *base;
  if (!dst || !target) fail("plan", EINVAL, NULL, "symlink");
  int p = parent_fd(dst, &base);
  if (symlinkat(target, p, base) < 0) fail("symlinkat", errno, base, NULL);
  close(p);
  free(base);
}

/** chmod of the inode an O_PATH fd is (fsat.fchmodPath): fchmodat2, else the helper's own /proc/self/fd. */
static void fchmod_path(int fd, mode_t mode) {
  if (syscall(NR_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0) return;
  if (errno != ENOSYS) fail("fchmodat2", errno, NULL, NULL);
  char b[32];
  snprintf(b, sizeof b, "/proc/self/fd/%d", fd);
  if (chmod(b, mode) < 0) fail("chmod", errno, b, NULL);
}

/** A directory under `dir` by a relative path the daemon listed, every component opened without following. */
static int walk_dir(int dir, const char *rel) {
  char *copy = strdup(rel);
  if (!copy) fail("malloc", ENOMEM, NULL, NULL);
  int cur = fcntl(dir, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) fail("fcntl", errno, NULL, NULL);
  char *rest = copy, *c;
  while ((c = strsep(&rest, "/")) != NULL) {
    if (!*c) continue;
    int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) fail("openat", errno, c, NULL);
    close(cur);
    cur = next;
  }
  free(copy);
  return cur;
}

/**
 * Privileged: the host's device nodes, listed by the daemon (hdir: a directory,
 * hdev: mode:major:minor:uid:gid:path; paths relative to /dev, parents first), made
 * under the /dev fd with the host's mode and owner.
 */
static void op_host_devices(const struct op *o) {
  char *dst = op_attr(o, "dst");
  if (!dst) fail("plan", EINVAL, NULL, "hostDevices");
  int t = xroot_open(dst, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  for (int i = o->first; i < o->last; i++) {
    char *k = rk[i] + 2, *v = rv[i];
    int isdir = !strcmp(k, "hdir");
    if (!isdir && strcmp(k, "hdev")) continue;
    unsigned mode = 0, maj = 0, min = 0, u = 0, g = 0;
    char *rel = v;
    if (!isdir) {
      int off = 0;
      if (sscanf(v, "%u:%u:%u:%u:%u:%n", &mode, &maj, &min, &u, &g, &off) != 5 || !off) fail("plan", EINVAL, NULL, "hdev");
      rel = v + off;
    }
    char *dir, *base;
    split_path(rel, &dir, &base);
    int p = walk_dir(t, dir);
    if (isdir) {
      if (mkdirat(p, base, 0755) < 0 && errno != EEXIST) fail("mkdirat", errno, base, NULL);
    } else {
      if (mknodat(p, base, mode, makedev(maj, min)) < 0) fail("mknodat", errno, base, NULL);
      if (fchownat(p, base, u, g, AT_SYMLINK_NOFOLLOW) < 0) fail("fchownat", errno, base, NULL);
      int fd = openat(p, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) fail("openat", errno, base, NULL);
      fchmod_path(fd, mode & 07777);
      close(fd);
    }
    close(p);
    free(dir);
    free(base);
  }
  close(t);
}

/**
 * The host's cgroup hierarchies (the daemon read them from /proc/self/mountinfo: cgh =
 * fstype:name:options, one cgroup2 with an empty name when unified) and /sys/fs/cgroup's
 * symlinks (cgl = name:target), mounted again: a tmpfs filled through its own fd.
 */
static void op_cgroupfs(const struct op *o) {
  char *dst = op_attr(o, "dst");
  if (!dst) fail("plan", EINVAL, NULL, "cgroupfs");
  fail_kind = "cgroupfs";
  int ro = (int)num(o, "ro");
  int t = mkdir_all(dst, 0755, 0);
  int nh = 0, unified = 0;
  for (int i = o->first; i < o->last; i++) {
    if (strcmp(rk[i] + 2, "cgh")) continue;
    nh++;
    if (!strncmp(rv[i], "cgroup2::", 9)) unified = 1;
  }
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (ro ? MS_RDONLY : 0);
  if (nh == 1 && unified) {
    int m = fs_mount("cgroup2", "cgroup2", NULL, ms_attrs(flags));
    xmove_mount(m, t);
    close(m);
  } else if (nh) {
    int tmp = fs_mount("tmpfs", "tmpfs", "mode=755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    xmove_mount(tmp, t);
    for (int i = o->first; i < o->last; i++) {
      char *k = rk[i] + 2;
      if (!strcmp(k, "cgh")) {
        char *fstype = rv[i], *name = strchr(fstype, ':');
        if (!name) fail("plan", EINVAL, NULL, "cgh");
        *name++ = 0;
        char *data = strchr(name, ':');
        if (!data) fail("plan", EINVAL, NULL, "cgh");
        *data++ = 0;
        if (mkdirat(tmp, name, 0755) < 0) fail("mkdirat", errno, name, NULL);
        int dir = openat(tmp, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0) fail("openat", errno, name, NULL);
        int m = fs_mount(fstype, "cgroup", *data ? data : NULL, ms_attrs(flags));
        xmove_mount(m, dir);
        close(m);
        close(dir);
      }
    }
    for (int i = o->first; i < o->last; i++) {
      if (strcmp(rk[i] + 2, "cgl")) continue;
      char *name = rv[i], *target = strchr(name, ':');
      if (!target) fail("plan", EINVAL, NULL, "cgl");
      *target++ = 0;
      if (symlinkat(target, tmp, name) < 0) fail("symlinkat", errno, name, NULL);
    }
    if (ro) xmount_setattr(tmp, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, 0, 0);
    close(tmp);
  }
  close(t);
  fail_kind = NULL;
}

/** An O_PATH fd of `dest`, not following its last component; -1 when nothing is there. */
static int existing(const char *dest) {
  char *rel = in_root(dest);
  int fd = root_open(rel, O_PATH | O_NOFOLLOW);
  if (fd < 0 && errno != ENOENT && errno != ENOTDIR) fail("openat2", errno, rel, NULL);
  free(rel);
  return fd;
}

static int null_fd = -1;

/** The container's /dev/null, checked on its fd to be the 1:3 character device (what masks are bound from). */
static int null_device(void) {
  if (null_fd >= 0) return null_fd;
  int fd = root_open("dev/null", O_PATH | O_NOFOLLOW);
  if (fd < 0) { fail_inner = "nullopen"; fail("openat2", errno, "dev/null", NULL); }
  struct stat st;
  if (fstat(fd, &st) < 0) fail("fstat", errno, NULL, NULL);
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
    const char *type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "symlink" : S_ISCHR(st.st_mode) ? "char"
      : S_ISBLK(st.st_mode) ? "block" : S_ISFIFO(st.st_mode) ? "fifo" : "socket";
    int ch = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
    char d[64];
    snprintf(d, sizeof d, "%s %u:%u", type, ch ? major(st.st_rdev) : 0, ch ? minor(st.st_rdev) : 0);
    fail_inner = "notnull";
    fail("fstat", ENODEV, NULL, d);
  }
  return null_fd = fd;
}

static void op_mask(const struct op *o) {
  char *dst = op_attr(o, "dst");
  if (!dst) fail("plan", EINVAL, NULL, "mask");
  int t = existing(dst);
  if (t < 0) return;
  struct stat st;
  if (fstat(t, &st) < 0) fail("fstat", errno, NULL, NULL);
  int m = S_ISDIR(st.st_mode) ? fs_mount("tmpfs", "tmpfs", NULL, MOUNT_ATTR_RDONLY) : xopen_tree(null_device(), "", 0);
  xmove_mount(m, t);
  close(m);
  close(t);
}

static void op_readonly(const struct op *o) {
  char *dst = op_attr(o, "dst");
  if (!dst) fail("plan", EINVAL, NULL, "readonly");
  int t = existing(dst);
  if (t < 0) return;
  int m = xopen_tree(t, "", 1);
  xmount_setattr(m, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, 0, 1);
  xmove_mount(m, t);
  close(m);
  close(t);
}

static void step_stdio(void) {
  enter("stdio", 0);
  if (!plan.stdinnull || plan.tty) return;
  int fd = open("/dev/null", O_RDWR);
  if (fd < 0) fail("open", errno, "/dev/null", NULL);
  if (dup2(fd, 0) < 0) fail("dup2", errno, NULL, NULL);
  close(fd);
}

static void step_network(void) {
  enter("network", 0);
  if (plan.net == 1) {
    if (unshare(CLONE_NEWNET) < 0) fail("unshare", errno, NULL, "0x40000000");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail("socket", errno, NULL, NULL);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail("ioctl", errno, "lo", "SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail("ioctl", errno, "lo", "SIOCSIFFLAGS");
    close(s);
  } else if (plan.net == 2) {
    int fd = open(plan.netjoin, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open-netns", errno, plan.netjoin, NULL);
    if (setns(fd, CLONE_NEWNET) < 0) fail("setns", errno, NULL, "0x40000000");
    close(fd);
  }
}

static void step_namespaces(void) {
  enter("namespaces", 0);
  if (plan.unshare && unshare(plan.unshare) < 0) {
    char d[16];
    snprintf(d, sizeof d, "0x%x", plan.unshare);
    fail("unshare", errno, NULL, d);
  }
}

static void step_hostname(void) {
  enter("hostname", 0);
  if (plan.hostname && sethostname(plan.hostname, strlen(plan.hostname)) < 0) fail("sethostname", errno, NULL, plan.hostname);
  if (plan.domainname && setdomainname(plan.domainname, strlen(plan.domainname)) < 0) fail("setdomainname", errno, NULL, plan.domainname);
}

static void step_sysctl(void) {
  enter("sysctl", 0);
  for (int i = 0; i < plan.nsysctl; i++) write_proc(plan.sysctl_path[i], plan.sysctl_val[i] ? plan.sysctl_val[i] : "");
}

static void step_rootfs(void) {
  enter("private", 0);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("mount", errno, "/", NULL);
  enter("rootfs", 0);
  // the rootfs: a path of the daemon's data root (trusted), bound onto itself, then held by fd
  if (mount(plan.rootfs, plan.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) fail("mount", errno, plan.rootfs, plan.rootfs);
  rootfd = open(plan.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail("openat", errno, plan.rootfs, NULL);
}

static void step_mounts(void) {
  enter("mounts", 1);
  for (int i = 0; i < plan.nops; i++) {
    struct op *o = &plan.ops[i];
    cur_op = i;
    if (!strcmp(o->type, "mount")) op_mount(o);
    else if (!strcmp(o->type, "mknod")) op_mknod(o);
    else if (!strcmp(o->type, "symlink")) op_symlink(o);
    else if (!strcmp(o->type, "hostDevices")) op_host_devices(o);
    else if (!strcmp(o->type, "cgroupfs")) op_cgroupfs(o);
    else if (!strcmp(o->type, "mask")) op_mask(o);
    else if (!strcmp(o->type, "readonly")) op_readonly(o);
    else fail("plan", EINVAL, NULL, o->type);
    fail_kind = NULL;
  }
  cur_op = -1;
  if (null_fd >= 0) close(null_fd);
  null_fd = -1;
}

/** pivot_root(".", ".") from the rootfs fd: the old root stacked under the new one, made a slave and detached. */
static void step_pivot_root(void) {
  enter("pivot_root", 0);
  if (fchdir(rootfd) < 0) fail("fchdir", errno, NULL, NULL);
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root", errno, ".", NULL);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail("mount", errno, ".", NULL);
  if (umount2(".", MNT_DETACH) < 0) fail("umount2", errno, ".", NULL);
  if (chdir("/") < 0) fail("chdir", errno, "/", NULL);
  close(rootfd);
  rootfd = -1;
  enter("readonly_rootfs", 0);
  if (plan.rofs && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) fail("mount", errno, "/", NULL);
}

static void step_rlimits(void) {
  enter("rlimits", 0);
  for (int i = 0; i < plan.nrlimits; i++) {
    struct rlimit r = {.rlim_cur = plan.rlimits[i].soft, .rlim_max = plan.rlimits[i].hard};
    if (setrlimit(plan.rlimits[i].resource, &r) < 0) {
      char d[16];
      snprintf(d, sizeof d, "%d", plan.rlimits[i].resource);
      fail("setrlimit", errno, NULL, d);
    }
  }
}

/** create: the pty slave bound from its fd onto a /dev/console made a regular file of the container's /dev. */
static void bind_console(int slave) {
  int dev = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dev < 0) fail("openat", errno, "/dev", NULL);
  int t = file_at(dev, "console", 0600);
  int m = xopen_tree(slave, "", 0);
  xmove_mount(m, t);
  close(m);
  close(t);
  close(dev);
}

/** The create cwd as root: entered, or created (bounded, never in procfs or sysfs); a failure is the user step's to report. */
static void step_cwd_create(void) {
  enter("cwd", 0);
  if (chdir_to_cwd() == 0) return;
  jmp_buf jb;
  int rfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return;
  rootfd = rfd;
  if (setjmp(jb) == 0) {
    soft_fail = &jb;
    int fd = mkdir_all(plan.cwd, 0755, 1);
    close(fd);
  }
  soft_fail = NULL;
  fail_inner = NULL;
  // fds a soft failure left open close on exec (cloexec), as everything this helper opens
  close(rfd);
  rootfd = -1;
}

int main(int argc, char **argv) {
  // First act: not dumpable, so no process of the container (no CAP_SYS_PTRACE) can open
  // /proc/<this>/exe, /cwd, /root, /fd or /mem while we run in its PID namespace (CVE-2019-5736).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Die with the daemon while we are its helper (cleared before the program runs).
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Every signal at its default, as the program expects to start: posix_spawn (the daemon's
  // vfork, runtime/vspawn.ts) leaves glibc's internal signals 32 and 33 ignored, and an
  // ignored signal stays ignored across execve. Raw rt_sigaction: glibc refuses those two.
  for (int s = 1; s <= 64; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(uint64_t));
  }
  int fl = fcntl(PROTO_FD, F_GETFL);
  if (fl < 0) _exit(1);
  if (fl & O_NONBLOCK) fcntl(PROTO_FD, F_SETFL, fl & ~O_NONBLOCK);
  // a warm helper (the launcher's pool): spawned ahead of time, it says so and waits for its plan
  if (argc > 1 && !strcmp(argv[1], "--warm")) {
    ostr("{\"t\":\"ready\"}\n");
    oflush();
  }
  struct frame f = next_frame();
  parse_plan(&f);

  step_oom();
  if (plan.create) step_stdio();
  step_cgroup();
  if (plan.create) {
    step_network();
    step_namespaces();
  }
  step_join();
  if (plan.create) {
    step_hostname();
    step_sysctl();
    step_rootfs();
    step_mounts();
    step_pivot_root();
    step_rlimits();
    step_cwd_create();
  } else {
    // cwd: first as root (an exec does not create it); a failure is reported as the user's below
    enter("cwd", 0);
    (void)chdir_to_cwd();
  }
  step_bounding();
  step_user();
  enter("cwd_user", 0);
  int err = chdir_to_cwd();
  if (err) fail("chdir", err, plan.cwd, NULL);
  step_raise_effective();
  step_tty();
  enter("cloexec", 0);
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) fail("close_range", errno, NULL, NULL);
  enter("parent_death", 0);
  prctl_or_fail(PR_SET_PDEATHSIG, 0);
  enter("seccomp", 0);
  if (!plan.nnp) load_seccomp();
  step_capabilities();
  enter("no_new_privs", 0);
  if (plan.nnp) prctl_or_fail(PR_SET_NO_NEW_PRIVS, 1);
  enter("seccomp_late", 0);
  if (plan.nnp) load_seccomp();
  step_exec();
}
