#pragma once
// synscope's own applications, run for real inside the lab's namespaces (each in a NetnsChild):
// a server with the scenario's backlog and accept behaviour, clients that connect at the scenario's
// times with its socket options, the seed's connect-and-close step, a spoofed SYN flood from a raw
// socket, and a libpcap capture. All run in real time against a shared monotonic start time; each
// runs until SIGTERM and then returns what it saw as text (parsed by the lab run).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "sim/scenario.h"

namespace synscope::lab {

// The run's clock: CLOCK_MONOTONIC nanoseconds at scenario t = 0.
struct LabClock {
  std::int64_t t0_ns = 0;
  static std::int64_t now_ns();
  Duration since_start() const { return Duration{now_ns() - t0_ns}; }
};

// Lab outcome of one connect(), from the client's side.
enum class LabOutcome { Pending, Established, TimedOut, Refused, Reset, Error };

struct LabAttempt {
  std::string client;       // label, as the simulator names it
  Duration start{};
  std::uint16_t local_port = 0;
  LabOutcome outcome = LabOutcome::Pending;
  std::optional<Duration> established_at;
  std::optional<Duration> ended_at;
  std::string error;        // errno text for Error
};

// One connection the client side opens: the merged plan of [[client]] and [[connect_close]].
struct ConnectPlan {
  std::string label;
  Endpoint target;
  Duration at{};
  std::optional<Duration> close_after;     // from established ([[client]])
  std::optional<Duration> close_at_connect; // from connect() ([[connect_close]])
  std::optional<int> syn_retries;
  std::optional<std::uint16_t> sport;
  // Another connect() on this host is due at the same instant. The model sends such SYNs together;
  // over veth a handshake completes inside connect() (the whole exchange runs in the caller's
  // softirq), so the lab holds back this socket's final ACK with TCP_DEFER_ACCEPT on the client
  // (≈200 ms, the delayed-ACK timer, §17) to let every SYN of the group reach the server first.
  bool hold_final_ack = false;
};
// The connections of every client app running on `host`, in time order.
std::vector<ConnectPlan> connect_plans(const sim::Scenario& sc, const std::string& host);

// Child bodies (call inside a NetnsChild; they call signal_ready() once set up, then run until
// SIGTERM). Their result text is parsed by the parse_* functions.
std::string run_server(const sim::ServerAppSpec& spec, LabClock clock);
std::string run_clients(const std::vector<ConnectPlan>& plans, LabClock clock);
std::string run_flood(const sim::FloodSpec& spec, std::uint64_t seed, LabClock clock);
std::string run_capture(const std::string& iface, const std::string& path);

std::vector<LabAttempt> parse_attempts(const std::string& text);

}  // namespace synscope::lab
