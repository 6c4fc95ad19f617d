/*
 * refscope-sampler: a native RSS sampler for the app the probe runs (docs/protocol.md,
 * "Native sampler records").
 *
 *   refscope-sampler --out DIR [--interval SEC] [--keepalive SEC] [--segment-kib N]
 *                    [--memcg DIR] -- COMMAND [ARGS...]
 *
 * Starts COMMAND (the probe, and so the app) as its child and samples /proc/PID/statm,
 * /proc/PID/status (VmHWM, Threads) and, where the kernel has it, /proc/PID/smaps_rollup
 * (Pss) at a high rate from its own process: it keeps recording while the interpreter is
 * stuck in C code holding the GIL. A sample is written when a figure changed, or at least
 * every --keepalive seconds. When the child has ended it records how (waitpid: exit status
 * or signal) and whether the kernel's OOM killer did it (memory cgroup v1 oom_kill counter,
 * else /proc/vmstat oom_kill), then exits with the child's status as a shell reports it
 * (128+signal when killed). SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2 are relayed to
 * the child.
 *
 * Records go to DIR/nseg-NNNNNN.jsonl, one JSON object per line, one write(2) each on an
 * O_APPEND descriptor, with their own seq (0 = native-start). No stdio, no malloc: it
 * stays small and statically linked for every target in cross/build.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SAMPLER_VERSION "0.1.0"
#define SCHEMA "refscope.records/1"

/* ---- a tiny output buffer (no stdio) ---- */

typedef struct {
  char b[4096];
  size_t n;
} buf_t;

static void put(buf_t *o, const char *s) {
  while (*s && o->n < sizeof o->b - 1) o->b[o->n++] = *s++;
}

static void put_u(buf_t *o, unsigned long long v) {
  char t[24];
  int i = 0;
  do { t[i++] = (char)('0' + v % 10); v /= 10; } while (v && i < 23);
  while (i > 0 && o->n < sizeof o->b - 1) o->b[o->n++] = t[--i];
}

static void put_i(buf_t *o, long long v) {
  if (v < 0) { put(o, "-"); put_u(o, (unsigned long long)(-v)); }
  else put_u(o, (unsigned long long)v);
}

/* non-negative seconds with `digits` decimals (3 for t and cpu, 3 for wall) */
static void put_fixed(buf_t *o, double v, int digits) {
  unsigned long long scale = 1, whole, frac;
  int i;
  char t[8];
  if (v < 0) { put(o, "-"); v = -v; }
  for (i = 0; i < digits; i++) scale *= 10;
  whole = (unsigned long long)v;
  frac = (unsigned long long)((v - (double)whole) * (double)scale + 0.5);
  if (frac >= scale) { whole++; frac -= scale; }
  put_u(o, whole);
  if (digits > 0) {
    put(o, ".");
    for (i = digits - 1; i >= 0; i--) { t[i] = (char)('0' + frac % 10); frac /= 10; }
    t[digits] = 0;
    put(o, t);
  }
}

/* a JSON string, ASCII only: everything outside printable ASCII as \u00XX */
static void put_str(buf_t *o, const char *s) {
  static const char hex[] = "0123456789abcdef";
  put(o, "\"");
  for (; *s && o->n < sizeof o->b - 8; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { o->b[o->n++] = '\\'; o->b[o->n++] = (char)c; }
    else if (c < 0x20 || c >= 0x7f) {
      put(o, "\\u00");
      o->b[o->n++] = hex[c >> 4];
      o->b[o->n++] = hex[c & 15];
    } else o->b[o->n++] = (char)c;
  }
  put(o, "\"");
}

/* ---- reading small /proc files ---- */

static ssize_t slurp(const char *path, char *dst, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n, got = 0;
  if (fd < 0) return -1;
  while ((size_t)got < cap - 1) {
    n = read(fd, dst + got, cap - 1 - (size_t)got);
    if (n < 0) { if (errno == EINTR) continue; close(fd); return -1; }
    if (n == 0) break;
    got += n;
  }
  close(fd);
  dst[got] = 0;
  return got;
}

static long long parse_num(const char *p) {
  long long v = 0;
  while (*p == ' ' || *p == '\t') p++;
  if (*p < '0' || *p > '9') return -1;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

/* the number after "key" at the start of a line of `text`, or -1 */
static long long field(const char *text, const char *key) {
  size_t kl = strlen(key);
  const char *p = text;
  while (p && *p) {
    if (strncmp(p, key, kl) == 0) return parse_num(p + kl);
    p = strchr(p, '\n');
    if (p) p++;
  }
  return -1;
}

static void join_path(char *dst, size_t cap, const char *a, const char *b) {
  size_t n = 0;
  while (*a && n < cap - 1) dst[n++] = *a++;
  while (*b && n < cap - 1) dst[n++] = *b++;
  dst[n] = 0;
}

/* ---- state ---- */

static const char *out_dir = ".";
static double interval = 0.05, keepalive = 1.0;
static unsigned long long segment_cap = 1024 * 1024;
static int seg_fd = -1, seg_no = 0;
static unsigned long long seg_bytes = 0, seq = 0, write_failures = 0;
static double t0_mono;
static volatile sig_atomic_t child_pid = 0;
static char memcg[512] = "";

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void) {
  struct timeval tv;
  gettimeofday(&tv, 0);
  return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static int open_segment(void) {
  char name[32] = "/nseg-000000.jsonl", path[1024];
  int i, n;
  if (seg_fd >= 0) close(seg_fd);
  n = ++seg_no;
  for (i = 11; i >= 6; i--) { name[i] = (char)('0' + n % 10); n /= 10; }
  join_path(path, sizeof path, out_dir, name);
  seg_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  seg_bytes = 0;
  return seg_fd;
}

/* start a record: {"seq":N,"k":"KIND","t":T */
static void begin(buf_t *o, const char *kind) {
  o->n = 0;
  put(o, "{\"seq\":");
  put_u(o, seq);
  put(o, ",\"k\":\"");
  put(o, kind);
  put(o, "\",\"t\":");
  put_fixed(o, mono() - t0_mono, 3);
}

/* finish and write it with one write(2); a failure loses this record (its seq stays missing) */
static void emit(buf_t *o) {
  ssize_t w;
  put(o, "}\n");
  if (o->b[o->n - 1] != '\n') o->b[o->n - 1] = '\n';
  if (seg_fd < 0 || (seg_bytes > 0 && seg_bytes + o->n > segment_cap)) open_segment();
  seq++;
  if (seg_fd < 0) { write_failures++; return; }
  do { w = write(seg_fd, o->b, o->n); } while (w < 0 && errno == EINTR);
  if (w != (ssize_t)o->n) write_failures++;
  else seg_bytes += (unsigned long long)w;
}

/* ---- what the machine tells about memory limits and OOM kills ---- */

static void find_memcg(void) {
  char text[4096], *p, *line;
  const char *env = getenv("REFSCOPE_MEMCG");
  if (env && *env) { join_path(memcg, sizeof memcg, env, ""); return; }
  if (slurp("/proc/self/cgroup", text, sizeof text) <= 0) return;
  /* v1: "N:memory:/path" */
  for (line = text; line && *line; line = p) {
    p = strchr(line, '\n');
    if (p) *p++ = 0;
    char *c = strstr(line, ":memory:");
    if (c) {
      char probe[600];
      join_path(memcg, sizeof memcg, "/sys/fs/cgroup/memory", c + 8);
      join_path(probe, sizeof probe, memcg, "/memory.limit_in_bytes");
      if (access(probe, R_OK) != 0) {
        /* a chroot or namespace may see only its own cgroup at the mount's root */
        join_path(memcg, sizeof memcg, "/sys/fs/cgroup/memory", "");
        join_path(probe, sizeof probe, memcg, "/memory.limit_in_bytes");
        if (access(probe, R_OK) != 0) memcg[0] = 0;
      }
      return;
    }
  }
}

static long long memcg_read(const char *file, const char *key) {
  char path[600], text[2048];
  if (!memcg[0]) return -1;
  join_path(path, sizeof path, memcg, file);
  if (slurp(path, text, sizeof text) <= 0) return -1;
  return key ? field(text, key) : parse_num(text);
}

static long long vmstat_oom_kills(void) {
  static char text[8192];
  if (slurp("/proc/vmstat", text, sizeof text) <= 0) return -1;
  return field(text, "oom_kill ");
}

/* emulated when /proc/PID/maps (not intercepted by qemu for another process) names qemu */
static int emulated_by_qemu(pid_t pid) {
  char path[64], text[16384];
  buf_t o;
  o.n = 0;
  put(&o, "/proc/");
  put_u(&o, (unsigned long long)pid);
  put(&o, "/maps");
  o.b[o.n] = 0;
  join_path(path, sizeof path, o.b, "");
  if (slurp(path, text, sizeof text) <= 0) return 0;
  return strstr(text, "qemu") != 0;
}

static void relay(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static const char *signame(int s) {
  switch (s) {
    case SIGHUP: return "SIGHUP"; case SIGINT: return "SIGINT"; case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL"; case SIGABRT: return "SIGABRT"; case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE"; case SIGKILL: return "SIGKILL"; case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE"; case SIGALRM: return "SIGALRM"; case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1"; case SIGUSR2: return "SIGUSR2"; case SIGXCPU: return "SIGXCPU";
    default: return "signal";
  }
}

static double parse_double(const char *s) {
  double v = 0, scale = 1;
  int frac = 0;
  for (; *s; s++) {
    if (*s == '.') { frac = 1; continue; }
    if (*s < '0' || *s > '9') break;
    if (frac) { scale /= 10; v += (*s - '0') * scale; }
    else v = v * 10 + (*s - '0');
  }
  return v;
}

static void usage(void) {
  static const char u[] = "usage: refscope-sampler --out DIR [--interval SEC] [--keepalive SEC] [--segment-kib N] [--memcg DIR] -- COMMAND [ARGS...]\n";
  if (write(2, u, sizeof u - 1) < 0) { /* nothing to do */ }
}

int main(int argc, char **argv) {
  int i, status = 0, cmd = -1;
  long page_kib;
  pid_t pid;
  struct sigaction sa;
  struct utsname un;
  buf_t o;
  char path_statm[64], path_status[64], path_rollup[64], text[4096];
  long long oom_before_cg, oom_before_vm, limit, failcnt_before;
  long long rss = -1, peak = -1, vsz = -1, pss = -1, threads = -1;
  long long last_rss = -2, last_peak = -2, last_threads = -2, max_rss = 0;
  unsigned long long samples = 0, written = 0;
  double last_write = -1e9, next;
  int has_rollup, emulated, rollup_every = 10;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { cmd = i + 1; break; }
    if (i + 1 >= argc) { usage(); return 97; }
    if (strcmp(argv[i], "--out") == 0) out_dir = argv[++i];
    else if (strcmp(argv[i], "--interval") == 0) interval = parse_double(argv[++i]);
    else if (strcmp(argv[i], "--keepalive") == 0) keepalive = parse_double(argv[++i]);
    else if (strcmp(argv[i], "--segment-kib") == 0) segment_cap = (unsigned long long)parse_num(argv[++i]) * 1024;
    else if (strcmp(argv[i], "--memcg") == 0) join_path(memcg, sizeof memcg, argv[++i], "");
    else { usage(); return 97; }
  }
  if (cmd < 0 || cmd >= argc) { usage(); return 97; }
  if (interval < 0.001) interval = 0.001;
  if (segment_cap < 4096) segment_cap = 4096;
  mkdir(out_dir, 0755);
  if (!memcg[0]) find_memcg();
  page_kib = sysconf(_SC_PAGESIZE) / 1024;
  if (page_kib <= 0) page_kib = 4;
  oom_before_cg = memcg_read("/memory.oom_control", "oom_kill ");
  failcnt_before = memcg_read("/memory.failcnt", 0);
  oom_before_vm = vmstat_oom_kills();
  limit = memcg_read("/memory.limit_in_bytes", 0);

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = relay;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, 0); sigaction(SIGINT, &sa, 0); sigaction(SIGHUP, &sa, 0);
  sigaction(SIGQUIT, &sa, 0); sigaction(SIGUSR1, &sa, 0); sigaction(SIGUSR2, &sa, 0);

  t0_mono = mono();
  pid = fork();
  if (pid < 0) return 97;
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGHUP, SIG_DFL);
    signal(SIGQUIT, SIG_DFL); signal(SIGUSR1, SIG_DFL); signal(SIGUSR2, SIG_DFL);
    execvp(argv[cmd], argv + cmd);
    _exit(127);
  }
  child_pid = pid;
  {
    buf_t p;
    p.n = 0; put(&p, "/proc/"); put_u(&p, (unsigned long long)pid); p.b[p.n] = 0;
    join_path(path_statm, sizeof path_statm, p.b, "/statm");
    join_path(path_status, sizeof path_status, p.b, "/status");
    join_path(path_rollup, sizeof path_rollup, p.b, "/smaps_rollup");
  }
  has_rollup = access(path_rollup, R_OK) == 0;
  /* give exec a moment so the maps show the interpreter (and qemu, when emulated) */
  usleep(20000);
  emulated = emulated_by_qemu(pid);

  begin(&o, "native-start");
  put(&o, ",\"schema\":\"" SCHEMA "\",\"sampler\":\"" SAMPLER_VERSION "\",\"wall\":");
  put_fixed(&o, wall(), 3);
  put(&o, ",\"pid\":"); put_u(&o, (unsigned long long)pid);
  put(&o, ",\"interval\":"); put_fixed(&o, interval, 3);
  put(&o, ",\"keepalive\":"); put_fixed(&o, keepalive, 3);
  put(&o, ",\"pageKiB\":"); put_u(&o, (unsigned long long)page_kib);
  put(&o, ",\"machine\":"); put_str(&o, uname(&un) == 0 ? un.machine : "");
  put(&o, ",\"emulator\":"); put(&o, emulated ? "\"qemu-user\"" : "null");
  put(&o, ",\"smapsRollup\":"); put(&o, has_rollup ? "true" : "false");
  put(&o, ",\"memcg\":"); if (memcg[0]) put_str(&o, memcg); else put(&o, "null");
  put(&o, ",\"limitKiB\":");
  if (limit > 0 && limit < (1LL << 50)) put_i(&o, limit / 1024); else put(&o, "null");
  put(&o, ",\"argv\":[");
  for (i = cmd; i < argc; i++) { if (i > cmd) put(&o, ","); put_str(&o, argv[i]); }
  put(&o, "]");
  emit(&o);

  next = mono();
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    samples++;
    if (slurp(path_statm, text, sizeof text) > 0) {
      char *p = text;
      vsz = parse_num(p) * page_kib;
      p = strchr(p, ' ');
      rss = p ? parse_num(p) * page_kib : -1;
    }
    /* a zombie (ended, not yet reaped) has no memory to show: reap it instead */
    if (vsz == 0) { usleep(1000); continue; }
    if (slurp(path_status, text, sizeof text) > 0) {
      peak = field(text, "VmHWM:");
      threads = field(text, "Threads:");
    }
    if (has_rollup && (samples % (unsigned long long)rollup_every) == 1) {
      if (slurp(path_rollup, text, sizeof text) > 0) pss = field(text, "Pss:");
    }
    if (rss > max_rss) max_rss = rss;
    if (rss != last_rss || peak != last_peak || threads != last_threads || mono() - last_write >= keepalive) {
      begin(&o, "native-sample");
      put(&o, ",\"rss\":"); if (rss >= 0) put_i(&o, rss); else put(&o, "null");
      put(&o, ",\"peak\":"); if (peak >= 0) put_i(&o, peak); else put(&o, "null");
      put(&o, ",\"vsz\":"); if (vsz >= 0) put_i(&o, vsz); else put(&o, "null");
      if (has_rollup) { put(&o, ",\"pss\":"); if (pss >= 0) put_i(&o, pss); else put(&o, "null"); }
      put(&o, ",\"threads\":"); if (threads >= 0) put_i(&o, threads); else put(&o, "null");
      put(&o, ",\"n\":"); put_u(&o, samples);
      emit(&o);
      written++;
      last_rss = rss; last_peak = peak; last_threads = threads;
      last_write = mono();
    }
    next += interval;
    {
      double d = next - mono();
      if (d < 0) { next = mono(); d = 0; }
      if (d > 0) {
        struct timespec ts;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, 0);
      }
    }
  }
  child_pid = 0;

  {
    struct rusage ru;
    long long oom_after_cg = memcg_read("/memory.oom_control", "oom_kill ");
    long long oom_after_vm = vmstat_oom_kills();
    long long failcnt_after = memcg_read("/memory.failcnt", 0);
    int killed = WIFSIGNALED(status), sig = killed ? WTERMSIG(status) : 0;
    int code = killed ? 128 + sig : WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    const char *oom = "null", *via = 0;
    if (killed && sig == SIGKILL) {
      if (oom_before_cg >= 0 && oom_after_cg >= 0) {
        oom = oom_after_cg > oom_before_cg ? "true" : "false";
        via = "memory.oom_control oom_kill";
      } else if (oom_before_vm >= 0 && oom_after_vm >= 0) {
        oom = oom_after_vm > oom_before_vm ? "true" : "false";
        via = "/proc/vmstat oom_kill";
      }
    } else if (killed || WIFEXITED(status)) {
      oom = "false";
    }
    getrusage(RUSAGE_SELF, &ru);
    begin(&o, "native-end");
    put(&o, ",\"how\":"); put(&o, killed ? "\"signal\"" : "\"exit\"");
    put(&o, ",\"exit\":"); put_i(&o, code);
    put(&o, ",\"signal\":"); if (killed) put_i(&o, sig); else put(&o, "null");
    put(&o, ",\"signalName\":"); if (killed) put_str(&o, signame(sig)); else put(&o, "null");
    put(&o, ",\"core\":"); put(&o, killed && WCOREDUMP(status) ? "true" : "false");
    put(&o, ",\"oomKill\":"); put(&o, oom);
    put(&o, ",\"oomVia\":"); if (via) put_str(&o, via); else put(&o, "null");
    put(&o, ",\"failcnt\":");
    if (failcnt_before >= 0 && failcnt_after >= 0) put_i(&o, failcnt_after - failcnt_before); else put(&o, "null");
    put(&o, ",\"maxRss\":"); put_i(&o, max_rss);
    put(&o, ",\"samples\":"); put_u(&o, samples);
    put(&o, ",\"written\":"); put_u(&o, written);
    put(&o, ",\"samplerCpu\":[");
    put_fixed(&o, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, 3);
    put(&o, ",");
    put_fixed(&o, (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, 3);
    put(&o, "],\"writeFailures\":"); put_u(&o, write_failures);
    put(&o, ",\"records\":"); put_u(&o, seq + 1);
    emit(&o);
    if (seg_fd >= 0) { fsync(seg_fd); close(seg_fd); }
    return code;
  }
}
