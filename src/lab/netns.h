#pragma once
// Network namespaces and the processes that run inside them. Everything the lab creates lives in
// namespaces named "syn-<pid>-<what>" (NetnsPrefix), so a run's leftovers can be found by name and
// removed (`synscope lab --cleanup`), and nothing is ever created in the caller's own namespace.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace synscope::lab {

// The lab cannot run here at all (not root, no netns support, a tool missing): one line, exit 2.
class LabUnavailable : public UsageError {
 public:
  using UsageError::UsageError;
};

struct ToolResult {
  int status = -1;   // exit status, or -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs a program (argv[0] looked up in PATH) with `input` on its stdin; never through a shell.
ToolResult run_tool(const std::vector<std::string>& argv, const std::string& input = "");
// Same; throws LabError with the command and its output when it fails.
std::string run_tool_checked(const std::vector<std::string>& argv, const std::string& input = "");

// A step of a lab run that failed (a command, a socket call). Not a usage error: exit 1.
class LabError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "syn-<pid>-": the name prefix of one run's namespaces.
struct NetnsPrefix {
  std::string text;
  static NetnsPrefix for_pid(pid_t pid);
  std::string name(const std::string& what) const { return text + what; }
};

// Moves the calling process (single-threaded: call right after fork()) into /run/netns/NAME.
void enter_netns(const std::string& name);

// Forks a child that enters `netns`, runs `fn` and sends back the string it returns; waits for it.
// Throws LabError when the child fails (its message is passed back).
std::string run_in_netns(const std::string& netns, const std::function<std::string()>& fn);

// A forked child running `fn` inside `netns` until it returns or is signalled. The child dies with
// the parent (PR_SET_PDEATHSIG). Its result (what fn returns) is read with finish().
class NetnsChild {
 public:
  NetnsChild(const std::string& netns, std::function<std::string()> fn);
  ~NetnsChild();  // kills and reaps a child still running
  NetnsChild(const NetnsChild&) = delete;
  NetnsChild& operator=(const NetnsChild&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until the child wrote one line "ready" (see signal_ready()), or throws after `timeout_ms`.
  void wait_ready(int timeout_ms);
  void signal(int sig);
  // Waits for the child and returns its result; throws LabError if it failed.
  std::string finish();

 private:
  pid_t pid_ = -1;
  int result_fd_ = -1;
  int ready_fd_ = -1;
};
// Inside a NetnsChild: tells the parent that setup is done (for NetnsChild::wait_ready).
void signal_ready();

// Names of existing namespaces (`ip netns list`), and those left behind by lab runs whose process
// is gone. remove_netns() deletes one (`ip netns del`); its veths and nft tables go with it.
std::vector<std::string> list_netns();
std::vector<std::string> leftover_lab_netns(bool include_live_runs);
void remove_netns(const std::string& name);

// Whether this process can build a lab: root (CAP_SYS_ADMIN) and `ip`/`nft` present; else the
// one-line reason.
std::string lab_unavailable_reason();

}  // namespace synscope::lab
