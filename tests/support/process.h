#pragma once
// Test support shared by every test area: temporary directories and running real programs
// (tcpdump, tshark, the synscope binary) with their exit status, stdout and stderr.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace synscope::testing {

// True in the ASan+UBSan build (-DSYNSCOPE_SANITIZE=ON, docs/robustness.md): a peak RSS measured
// there is the sanitizer allocator's (quarantine, redzones), not synscope's.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "synscope-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` through the shell; stdout via popen, stderr via a temporary file.
inline CommandResult run_command(const std::string& command, const TempDir& dir) {
  CommandResult r;
  const std::string err_path = dir.file("stderr.txt");
  FILE* p = popen((command + " 2>'" + err_path + "'").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  return r;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline bool have_tool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Bad input must give exit status 2, nothing on stdout and exactly one line on stderr, starting
// "synscope: " and containing `message` (the front-ends' contract for every subcommand).
inline void expect_one_line_error(const CommandResult& r, const std::string& message) {
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto lines = split_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("synscope: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(message), std::string::npos) << lines[0];
}

// A long-running program (an exporter, a Prometheus server) started through the shell, stdout and
// stderr to a file; SIGTERM (then SIGKILL after 5 s) when stopped or destroyed.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::string& command, const std::string& log_path) : log_(log_path) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      std::freopen(log_path.c_str(), "w", stdout);
      dup2(fileno(stdout), 2);
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~BackgroundCommand() { stop(); }
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;
  std::string log() const { return read_file(log_); }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  // The program's own pid (the shell exec()s it), e.g. to read /proc/PID/status.
  pid_t pid() const { return pid_; }
  // Waits up to `seconds` for a line of the log containing `text`; returns that line or "".
  std::string wait_for_line(const std::string& text, double seconds) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      for (const auto& line : split_lines(log()))
        if (line.find(text) != std::string::npos) return line;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }
  // Waits up to `seconds` for it to exit on its own; its exit status, or -1 (then it is stopped).
  int wait_for_exit(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ <= 0) return status_;
    stop();
    return -1;
  }
  // Stops it; returns the exit status (-1 when killed by a signal or already reaped).
  int stop() {
    if (pid_ <= 0) return status_;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return status_ = -1;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// The synscope binary built with the tests, and the source tree.
inline std::string synscope_binary() { return SYNSCOPE_BINARY; }
inline std::string source_path(const std::string& rel) { return std::string(SYNSCOPE_SOURCE_DIR) + "/" + rel; }

}  // namespace synscope::testing
