/*
 * ml-entry: the service images' entrypoint and health probe, one static binary (the stand-in
 * Deno base has no shell). Built by ops/images/build.sh into .deno/bin/ml-entry.
 *
 *   ml-entry deno run ... main.ts     size V8 from the container's memory limit, then exec deno
 *   ml-entry healthz PORT [PATH]      exit 0 when http://127.0.0.1:PORT/PATH answers 200
 *
 * V8 sizes its heap from the host's memory, not the container's: on a 24 GiB host a 128 MiB
 * container gets a 4 GiB heap limit and 16 MiB young-generation semi-spaces, and grows until the
 * kernel kills it. So, unless DENO_V8_FLAGS is already set (an explicit setting wins), this sets
 *
 *   DENO_V8_FLAGS=--max-old-space-size=<limit/4 MiB, at least 16>,--max-semi-space-size=1
 *
 * A quarter, because the rest of a Deno service's resident set is not V8's heap: ~45 MiB of
 * runtime before any work (the binary, ICU data, code) plus native buffers under load; see
 * docs/benchmarks.md, "Footprint". bench/v8_sizing.ts holds the same rule for the bench.
 * It also exports MEMORY_LIMIT_BYTES (0 = no limit) for the ml_memory_limit_bytes gauge.
 *
 * The probe replaces `deno run stack/healthcheck.ts`: a second Deno process in the container's
 * cgroup every 10 s cost ~40 MiB of the service's own memory limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MIB (1024ULL * 1024ULL)
#define MIN_OLD_SPACE_MIB 16ULL
#define SEMI_SPACE_MIB 1ULL

/* The memory limit of this process's cgroup in bytes, 0 when there is none. */
static unsigned long long memory_limit(void) {
  static const char *paths[] = {
      "/sys/fs/cgroup/memory.max",                   /* cgroup v2 */
      "/sys/fs/cgroup/memory/memory.limit_in_bytes", /* cgroup v1 */
      "/sys/fs/cgroup/memory.limit_in_bytes",        /* cgroup v1, memory controller at the root */
  };
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    FILE *f = fopen(paths[i], "r");
    if (!f) continue;
    char text[64] = {0};
    int got = fgets(text, sizeof text, f) != NULL;
    fclose(f);
    if (!got) continue;
    if (strncmp(text, "max", 3) == 0) return 0;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text) continue;
    /* cgroup v1 says "no limit" with a huge number; a limit above the machine's memory is none. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && value >= (unsigned long long)pages * (unsigned long long)page) {
      return 0;
    }
    return value;
  }
  return 0;
}

static int healthz(const char *port_text, const char *path) {
  char *end;
  long port = strtol(port_text, &end, 10);
  if (*end || port < 1 || port > 65535) {
    fprintf(stderr, "healthz: '%s' is not a port\n", port_text);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("healthz: socket");
    return 1;
  }
  struct timeval timeout = {.tv_sec = 3};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    fprintf(stderr, "healthz: cannot connect to 127.0.0.1:%ld: %s\n", port, strerror(errno));
    return 1;
  }
  char request[512];
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
  if (n < 0 || n >= (int)sizeof request || write(fd, request, (size_t)n) != n) {
    fprintf(stderr, "healthz: cannot send the request\n");
    return 1;
  }
  char status[64] = {0};
  size_t have = 0;
  while (have < sizeof status - 1 && !memchr(status, '\n', have)) {
    ssize_t got = read(fd, status + have, sizeof status - 1 - have);
    if (got <= 0) break;
    have += (size_t)got;
  }
  close(fd);
  if (strncmp(status, "HTTP/1.", 7) == 0 && strncmp(status + 8, " 200", 4) == 0) return 0;
  status[strcspn(status, "\r\n")] = '\0';
  fprintf(stderr, "healthz: %s answered '%s'\n", path, have ? status : "nothing");
  return 1;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "healthz") == 0) {
    return healthz(argv[2], argc >= 4 ? argv[3] : "/healthz");
  }
  if (argc < 2) {
    fprintf(stderr, "usage: ml-entry PROGRAM [ARG]... | ml-entry healthz PORT [PATH]\n");
    return 2;
  }
  unsigned long long limit = memory_limit();
  char text[96];
  snprintf(text, sizeof text, "%llu", limit);
  setenv("MEMORY_LIMIT_BYTES", text, 0);
  const char *flags = getenv("DENO_V8_FLAGS");
  if (limit > 0 && (flags == NULL || flags[0] == '\0')) {
    unsigned long long old_space = limit / 4 / MIB;
    if (old_space < MIN_OLD_SPACE_MIB) old_space = MIN_OLD_SPACE_MIB;
    snprintf(text, sizeof text, "--max-old-space-size=%llu,--max-semi-space-size=%llu", old_space,
             SEMI_SPACE_MIB);
    setenv("DENO_V8_FLAGS", text, 1);
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "ml-entry: cannot run %s: %s\n", argv[1], strerror(errno));
  return 127;
}
