// tsd-portproxy: the userland proxy of published TCP ports (docker-proxy's job)
// for what the kernel's DNAT cannot serve (127.0.0.0/8 without route_localnet).
// One process per daemon (not one per port as docker-proxy): the daemon sends it
// lines on stdin and reads its answers on stdout (netctl/portproxy.ts):
//   L <id> <host-ip> <host-port> <target-ip> <target-port>  ->  O <id> <bound-port> | E <id> <errno>
//   C <id>                                                  ->  X <id>   (the listener and its connections closed)
// It exits when stdin reaches EOF (the daemon went away) or the daemon dies
// (PR_SET_PDEATHSIG). Bytes are moved with splice(2) through a pipe per direction
// (no copy into user space, no event loop of the daemon in the path); each
// direction's FIN is forwarded on its own (shutdown(SHUT_WR), docker-proxy's
// CloseWrite), so half-closed connections work both ways; a reset or an error on
// either side closes both. The policy (which ports, which target, when) is the
// daemon's: this only relays.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_SIZE (1 << 20) /* per direction; pages are only used while data is in flight */
#define MAX_EVENTS 64

enum kind { K_STDIN, K_LISTENER, K_CONN };

struct ref { enum kind kind; void *p; int side; };

struct listener {
  struct ref ref;
  unsigned long id;
  int fd;
  struct sockaddr_storage target;
  socklen_t target_len;
  struct listener *next;
};

struct dir {           /* bytes read from fd[side] and written to fd[1 - side] */
  int p[2];            /* the pipe in between */
  size_t inpipe;
  int eof, done, stalled;
};

struct conn {
  struct ref ref[2];   /* 0: the client, 1: the upstream (container) */
  int fd[2];
  unsigned reg[2];     /* the epoll interest registered per fd (0: not registered) */
  int connecting, dead;
  unsigned long lid;
  struct dir dir[2];
  struct conn *prev, *next;
};

static int ep;
static struct listener *listeners;
static struct conn *conns, *graveyard;
static size_t pipe_size = PIPE_SIZE;

static void say(const char *fmt, unsigned long id, long v) {
  char b[64];
  int n = snprintf(b, sizeof b, fmt, id, v);
  if (write(1, b, (size_t)n) != n) _exit(1); /* the daemon is gone */
}

static void set_interest(struct conn *c, int side, unsigned want) {
  if (c->reg[side] == want) return;
  struct epoll_event ev = { .events = want, .data.ptr = &c->ref[side] };
  if (want == 0) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[side], NULL);
  else epoll_ctl(ep, c->reg[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[side], &ev);
  c->reg[side] = want;
}

static void conn_close(struct conn *c) {
  if (c->dead) return;
  c->dead = 1;
  for (int s = 0; s < 2; s++) {
    if (c->fd[s] >= 0) close(c->fd[s]); /* also leaves the epoll set */
    for (int k = 0; k < 2; k++) if (c->dir[s].p[k] >= 0) close(c->dir[s].p[k]);
  }
  if (c->prev) c->prev->next = c->next; else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = graveyard; /* freed after this round of events: later events may still name it */
  graveyard = c;
}

/* Moves what it can in one direction; -1 on an error that ends the connection. */
static int pump(struct conn *c, int side) {
  struct dir *d = &c->dir[side];
  int from = c->fd[side], to = c->fd[1 - side];
  for (;;) {
    int progress = 0;
    if (!d->eof && d->inpipe < pipe_size) {
      ssize_t n = splice(from, NULL, d->p[1], NULL, pipe_size - d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) { d->inpipe += (size_t)n; progress = 1; }
      else if (n == 0) { d->eof = 1; progress = 1; }
      else if (errno == EAGAIN) d->stalled = d->inpipe > 0; /* the socket is empty, or the pipe is full */
      else if (errno != EINTR) return -1;
    }
    if (d->inpipe > 0) {
      ssize_t n = splice(d->p[0], NULL, to, NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) { d->inpipe -= (size_t)n; d->stalled = 0; progress = 1; }
      else if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    }
    if (d->eof && d->inpipe == 0 && !d->done) {
      d->done = 1;
      if (shutdown(to, SHUT_WR) < 0 && errno != ENOTCONN) return -1; /* the FIN of this direction */
    }
    if (!progress) return 0;
  }
}

static void conn_update(struct conn *c) {
  if (c->dead) return;
  if (c->dir[0].done && c->dir[1].done) { conn_close(c); return; }
  for (int s = 0; s < 2; s++) {
    unsigned want = 0;
    if (!c->dir[s].eof && !c->dir[s].stalled && c->dir[s].inpipe < pipe_size) want |= EPOLLIN;
    if (c->dir[1 - s].inpipe > 0) want |= EPOLLOUT;
    set_interest(c, s, want);
  }
}

static void conn_event(struct conn *c, int side, unsigned ev) {
  if (c->dead) return;
  if (c->connecting) {
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) { conn_close(c); return; }
    c->connecting = 0;
  } else if (ev & EPOLLERR) {
    conn_close(c);
    return;
  }
  (void)side;
  size_t before = c->dir[0].inpipe + c->dir[1].inpipe;
  int eofs = c->dir[0].eof + c->dir[1].eof + c->dir[0].done + c->dir[1].done;
  if (pump(c, 0) < 0 || pump(c, 1) < 0) { conn_close(c); return; }
  /* a hang-up that moved nothing would be reported again at once: end the connection */
  if ((ev & EPOLLHUP) && before == c->dir[0].inpipe + c->dir[1].inpipe && eofs == c->dir[0].eof + c->dir[1].eof + c->dir[0].done + c->dir[1].done) {
    conn_close(c);
    return;
  }
  conn_update(c);
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int new_pipe(int p[2]) {
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
  fcntl(p[1], F_SETPIPE_SZ, (int)pipe_size); /* best effort: the default 64 KiB works too */
  return 0;
}

static void accept_all(struct listener *l) {
  for (;;) {
    int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN; EMFILE and the like: the client waits in the backlog */
    }
    struct conn *c = calloc(1, sizeof *c);
    int up = socket(l->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!c || up < 0) { close(cfd); if (up >= 0) close(up); free(c); continue; }
    c->fd[0] = cfd;
    c->fd[1] = up;
    c->lid = l->id;
    for (int s = 0; s < 2; s++) {
      c->ref[s] = (struct ref){ K_CONN, c, s };
      c->dir[s].p[0] = c->dir[s].p[1] = -1;
    }
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    if (new_pipe(c->dir[0].p) < 0 || new_pipe(c->dir[1].p) < 0) { conn_close(c); continue; }
    nodelay(cfd);
    nodelay(up);
    if (connect(up, (struct sockaddr *)&l->target, l->target_len) < 0 && errno != EINPROGRESS) { conn_close(c); continue; }
    c->connecting = 1; /* the client is not read until the upstream answers */
    set_interest(c, 1, EPOLLOUT);
  }
}

static int parse_addr(const char *ip, const char *port, struct sockaddr_storage *ss, socklen_t *len) {
  char *end;
  long p = strtol(port, &end, 10);
  if (*end || p < 0 || p > 65535) return -1;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)p);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)p);
    *len = sizeof *a6;
    return 0;
  }
  return -1;
}

static void cmd_listen(unsigned long id, const char *hip, const char *hport, const char *tip, const char *tport) {
  struct sockaddr_storage host;
  socklen_t hlen;
  struct listener *l = calloc(1, sizeof *l);
  if (!l) { say("E %lu %ld\n", id, ENOMEM); return; }
  if (parse_addr(hip, hport, &host, &hlen) < 0 || parse_addr(tip, tport, &l->target, &l->target_len) < 0) {
    free(l);
    say("E %lu %ld\n", id, EINVAL);
    return;
  }
  int fd = socket(host.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) { free(l); say("E %lu %ld\n", id, errno); return; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as Node's and Go's listeners: TIME_WAIT does not hold the port */
  if (bind(fd, (struct sockaddr *)&host, hlen) < 0 || listen(fd, 511) < 0) {
    int e = errno;
    close(fd);
    free(l);
    say("E %lu %ld\n", id, e);
    return;
  }
  socklen_t blen = sizeof host;
  getsockname(fd, (struct sockaddr *)&host, &blen);
  l->ref = (struct ref){ K_LISTENER, l, 0 };
  l->id = id;
  l->fd = fd;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->ref };
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  l->next = listeners;
  listeners = l;
  say("O %lu %ld\n", id, ntohs(host.ss_family == AF_INET ? ((struct sockaddr_in *)&host)->sin_port : ((struct sockaddr_in6 *)&host)->sin6_port));
}

static void cmd_close(unsigned long id) {
  for (struct listener **pl = &listeners; *pl;) {
    struct listener *l = *pl;
    if (l->id != id) { pl = &l->next; continue; }
    *pl = l->next;
    close(l->fd);
    free(l); /* no event of this round can name it: commands are read last in a round */
  }
  for (struct conn *c = conns, *n; c; c = n) {
    n = c->next;
    if (c->lid == id) conn_close(c);
  }
  say("X %lu\n", id, 0);
}

static char line[4096];
static size_t used;

static void read_commands(void) {
  for (;;) {
    ssize_t n = read(0, line + used, sizeof line - 1 - used);
    if (n == 0) exit(0); /* the daemon closed our stdin */
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      exit(1);
    }
    used += (size_t)n;
    char *nl;
    while ((nl = memchr(line, '\n', used))) {
      *nl = 0;
      char a[5][64];
      unsigned long id;
      if (sscanf(line, "L %lu %63s %63s %63s %63s", &id, a[0], a[1], a[2], a[3]) == 5) cmd_listen(id, a[0], a[1], a[2], a[3]);
      else if (sscanf(line, "C %lu", &id) == 1) cmd_close(id);
      size_t rest = used - (size_t)(nl + 1 - line);
      memmove(line, nl + 1, rest);
      used = rest;
    }
    if (used == sizeof line - 1) used = 0; /* an overlong line: dropped */
  }
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1; /* the daemon died before the line above */
  signal(SIGPIPE, SIG_IGN);
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) { /* six fds per connection */
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  const char *ps = getenv("TSD_PORTPROXY_PIPE");
  if (ps && atol(ps) >= 4096) pipe_size = (size_t)atol(ps);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return 1;
  struct ref in = { K_STDIN, NULL, 0 };
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &in };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) return 1;
  say("O %lu %ld\n", 0, 0); /* ready */
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR) return 1;
    int commands = 0;
    for (int i = 0; i < n; i++) {
      struct ref *rf = evs[i].data.ptr;
      if (rf->kind == K_STDIN) commands = 1;
      else if (rf->kind == K_LISTENER) accept_all(rf->p);
      else conn_event(rf->p, rf->side, evs[i].events);
    }
    if (commands) read_commands();
    while (graveyard) {
      struct conn *c = graveyard;
      graveyard = c->next;
      free(c);
    }
  }
}
