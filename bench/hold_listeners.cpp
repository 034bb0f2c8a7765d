// Opens N TCP listeners (127.0.0.1, consecutive ports from --first-port) and holds them until a
// signal ends it (SIGTERM/SIGINT; stdin is not watched: tests start it with stdin at /dev/null): the "host with 10,000 listeners" that bench/doctor_compare.sh
// and the exporter's scrape test measure `synscope doctor`, the exporter and `ss -lnt` against.
// With --overflow K the first listener gets listen(fd, 1) and K connections that nobody accepts, so
// its accept queue is full (A = 2 > B = 1, §6.1) and the doctor has a listener to name.
// Prints "ready N" on stdout once every socket listens.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int count = 10000, first_port = 20000, backlog = 128, overflow = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--count") count = value;
    else if (flag == "--first-port") first_port = value;
    else if (flag == "--backlog") backlog = value;
    else if (flag == "--overflow") overflow = value;
    else {
      std::fprintf(stderr, "usage: hold_listeners [--count N] [--first-port P] [--backlog B] [--overflow K]\n");
      return 2;
    }
  }
  if (count <= 0 || first_port <= 0 || first_port + count > 65536) {
    std::fprintf(stderr, "hold_listeners: ports %d..%d out of range\n", first_port, first_port + count - 1);
    return 2;
  }
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  if (lim.rlim_cur < static_cast<rlim_t>(count) + 64) lim.rlim_cur = lim.rlim_max = count + 64;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    std::fprintf(stderr, "hold_listeners: cannot raise the fd limit to %d: %s\n", count + 64, std::strerror(errno));
    return 1;
  }
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(first_port + i));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int b = i == 0 && overflow > 0 ? 1 : backlog;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, b) != 0) {
      std::fprintf(stderr, "hold_listeners: port %d: %s\n", first_port + i, std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  for (int i = 0; i < overflow; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(first_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)) {
      std::fprintf(stderr, "hold_listeners: connect: %s\n", std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  if (overflow > 0) usleep(300 * 1000);  // let the handshakes that fit complete
  std::printf("ready %d\n", count);
  std::fflush(stdout);
  for (;;) pause();
}
