#include "lab/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <sstream>

namespace synscope::lab {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  return out;
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return st;
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

int g_ready_fd = -1;  // inside a NetnsChild: where signal_ready() writes

}  // namespace

ToolResult run_tool(const std::vector<std::string>& argv, const std::string& input) {
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) throw LabError("pipe: " + std::string(std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) throw LabError("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::string msg = fmt::format("cannot run {}: {}\n", argv[0], std::strerror(errno));
    write_all(1, msg);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(in[0]);
  write_all(in[1], input);
  ::close(in[1]);
  ToolResult r;
  r.output = read_all(out[0]);
  ::close(out[0]);
  int st = wait_child(pid);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string run_tool_checked(const std::vector<std::string>& argv, const std::string& input) {
  ToolResult r = run_tool(argv, input);
  if (r.status != 0) {
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    for (auto& c : out) if (c == '\n') c = ' ';
    throw LabError(fmt::format("`{}` failed: {}", join(argv), out.empty() ? "exit " + std::to_string(r.status) : out));
  }
  return r.output;
}

NetnsPrefix NetnsPrefix::for_pid(pid_t pid) { return NetnsPrefix{fmt::format("syn-{}-", pid)}; }

void enter_netns(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw LabError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  if (::setns(fd, CLONE_NEWNET) != 0) {
    int e = errno;
    ::close(fd);
    throw LabError(fmt::format("setns({}): {}", name, std::strerror(e)));
  }
  ::close(fd);
}

NetnsChild::NetnsChild(const std::string& netns, std::function<std::string()> fn) {
  int res[2], ready[2];
  if (::pipe2(res, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) throw LabError("pipe: " + std::string(std::strerror(errno)));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw LabError("fork: " + std::string(std::strerror(errno)));
  if (pid_ == 0) {
    ::close(res[0]);
    ::close(ready[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the lab (its teardown needs us gone)
    if (::getppid() != parent) ::_exit(1);
    ::signal(SIGINT, SIG_IGN);   // Ctrl-C is the parent's to handle: it stops us with SIGTERM
    ::signal(SIGTERM, SIG_DFL);
    g_ready_fd = ready[1];
    int code = 0;
    std::string out;
    try {
      enter_netns(netns);
      out = "OK" + fn();
    } catch (const std::exception& e) {
      out = std::string("ER") + e.what();
      code = 1;
    }
    write_all(res[1], out);
    ::_exit(code);
  }
  ::close(res[1]);
  ::close(ready[1]);
  result_fd_ = res[0];
  ready_fd_ = ready[0];
}

NetnsChild::~NetnsChild() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_child(pid_);
  }
  if (result_fd_ >= 0) ::close(result_fd_);
  if (ready_fd_ >= 0) ::close(ready_fd_);
}

void NetnsChild::wait_ready(int timeout_ms) {
  pollfd p{ready_fd_, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw LabError("a lab process did not start in time");
    char c;
    ssize_t r = ::read(ready_fd_, &c, 1);
    if (r == 1) return;
    // EOF: the child ended before it was ready; finish() reports why.
    finish();
    throw LabError("a lab process ended before it was ready");
  }
}

void NetnsChild::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string NetnsChild::finish() {
  // A child gets 5 s to answer once asked to stop; then it is killed (and reported as such).
  pollfd p{result_fd_, POLLIN, 0};
  const std::int64_t limit_ms = 5000;
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  std::string out;
  char buf[8192];
  for (;;) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const std::int64_t left = limit_ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
    if (left <= 0) {
      ::kill(pid_, SIGKILL);
      out += read_all(result_fd_);
      break;
    }
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    ssize_t r = ::read(result_fd_, buf, sizeof buf);
    if (r > 0) out.append(buf, static_cast<std::size_t>(r));
    else if (r < 0 && errno == EINTR) continue;
    else break;
  }
  int st = wait_child(pid_);
  pid_ = -1;
  if (out.rfind("OK", 0) == 0) return out.substr(2);
  if (out.rfind("ER", 0) == 0) throw LabError(out.substr(2));
  throw LabError(WIFSIGNALED(st) ? fmt::format("a lab process was killed by signal {}", WTERMSIG(st))
                                 : "a lab process failed without a message");
}

void signal_ready() {
  if (g_ready_fd >= 0) write_all(g_ready_fd, "r");
}

std::string run_in_netns(const std::string& netns, const std::function<std::string()>& fn) {
  NetnsChild child(netns, fn);
  return child.finish();
}

std::vector<std::string> list_netns() {
  ToolResult r = run_tool({"ip", "netns", "list"});
  std::vector<std::string> names;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find(' ');
    std::string name = line.substr(0, sp);
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

std::vector<std::string> leftover_lab_netns(bool include_live_runs) {
  std::vector<std::string> out;
  for (const auto& n : list_netns()) {
    if (n.rfind("syn-", 0) != 0) continue;
    auto dash = n.find('-', 4);
    if (dash == std::string::npos) continue;
    pid_t pid = 0;
    try {
      pid = static_cast<pid_t>(std::stol(n.substr(4, dash - 4)));
    } catch (...) {
      continue;
    }
    bool alive = pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
    if (!alive || include_live_runs) out.push_back(n);
  }
  return out;
}

void remove_netns(const std::string& name) { run_tool({"ip", "netns", "del", name}); }

std::string lab_unavailable_reason() {
  if (::geteuid() != 0) return "synscope lab needs root (it creates network namespaces, veths and nft tables)";
  if (run_tool({"ip", "-V"}).status != 0) return "synscope lab needs `ip` (iproute2)";
  if (run_tool({"nft", "--version"}).status != 0) return "synscope lab needs `nft` (nftables)";
  if (::access("/proc/self/ns/net", F_OK) != 0) return "this kernel has no network namespace support";
  return {};
}

}  // namespace synscope::lab
