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
__attribute__((noreturn)) static void fail(const char *call, int err, const char *path, const char *detail) {
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
  plan.env = calloc(f->len / 2 + 2, sizeof(char *));
  plan.argv = calloc(f->len / 2 + 2, sizeof(char *));
  if (!plan.env || !plan.argv) fail("malloc", ENOMEM, NULL, NULL);
  while ((v = next_record(f, &pos, &k))) {
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
      for (size_t i = 0; i < n; i++) {
        int hi = unhex(v[2 * i]), lo = unhex(v[2 * i + 1]);
        if (hi < 0 || lo < 0) fail("plan", EINVAL, NULL, "bpf");
        plan.bpf[i] = (uint8_t)(hi << 4 | lo);
      }
      plan.bpflen = n;
    }
    else if (!strcmp(k, "tty")) plan.tty = atoi(v);
    else if (!strcmp(k, "console")) sscanf(v, "%dx%d", &plan.rows, &plan.cols);
    else if (!strcmp(k, "env")) plan.env[plan.nenv++] = v;
    else if (!strcmp(k, "arg")) plan.argv[plan.nargv++] = v;
  }
  if (plan.nargv == 0 || !plan.cwd) fail("plan", EINVAL, NULL, "incomplete");
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

int main(void) {
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
  struct frame f = next_frame();
  parse_plan(&f);

  step_oom();
  step_cgroup();
  step_join();
  // cwd: first as root (an exec does not create it); a failure is reported as the user's below
  enter("cwd", 0);
  (void)chdir_to_cwd();
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
