/* SYN load for bench/trace_overhead.sh: a loopback server that accept()s and close()s, and client
 * threads that connect() and close() as fast as they can, for a fixed time. Prints one line:
 *   connections=N seconds=S rate=R
 * where a connection is one full handshake the server accept()ed. Run it inside the namespace the
 * tracer watches (the script does). Clients close with SO_LINGER 0 (an RST, no TIME_WAIT), so the
 * ephemeral ports never run out; the server's accept queue is large (no drops: the bench measures
 * the cost of tracing the normal path, where every SYN is looked up and answered).
 *
 * usage: trace_syn_load PORT SECONDS [CLIENT_THREADS] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop_flag;
static atomic_long accepted;
static int listen_fd;
static int port;

static void die(const char *what) {
  fprintf(stderr, "trace_syn_load: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void *server(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_flag)) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (atomic_load(&stop_flag)) break;
      die("accept");
    }
    atomic_fetch_add(&accepted, 1);
    close(fd);
  }
  return NULL;
}

static void *client(void *arg) {
  (void)arg;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  while (!atomic_load(&stop_flag)) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != ECONNRESET) die("connect");
    close(fd);
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: trace_syn_load PORT SECONDS [CLIENT_THREADS]\n");
    return 2;
  }
  port = atoi(argv[1]);
  double seconds = atof(argv[2]);
  int clients = argc > 3 ? atoi(argv[3]) : 1;
  if (port <= 0 || port > 65535 || seconds <= 0 || clients < 1 || clients > 64) {
    fprintf(stderr, "trace_syn_load: bad arguments\n");
    return 2;
  }
  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd < 0) die("socket");
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &at.sin_addr);
  if (bind(listen_fd, (struct sockaddr *)&at, sizeof at) != 0) die("bind");
  if (listen(listen_fd, 4096) != 0) die("listen");
  struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  pthread_t srv, cl[64];
  pthread_create(&srv, NULL, server, NULL);
  const double t0 = now_s();
  for (int i = 0; i < clients; i++) pthread_create(&cl[i], NULL, client, NULL);
  struct timespec d = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&d, NULL);
  const long n = atomic_load(&accepted);
  const double t = now_s() - t0;
  atomic_store(&stop_flag, 1);
  for (int i = 0; i < clients; i++) pthread_join(cl[i], NULL);
  pthread_join(srv, NULL);
  printf("connections=%ld seconds=%.3f rate=%.0f\n", n, t, (double)n / t);
  return 0;
}
