#include "analyze/attempt.h"

namespace synscope::analyze {

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::Established: return "established";
    case Outcome::AckIgnored: return "ack-ignored";
    case Outcome::ResetAfterAck: return "reset-after-ack";
    case Outcome::Refused: return "refused";
    case Outcome::Unreachable: return "unreachable";
    case Outcome::Unanswered: return "unanswered";
    case Outcome::SynAckUnacked: return "synack-unacked";
    case Outcome::CompletedUnseen: return "completed-unseen";
    case Outcome::CaptureEnded: return "capture-ended";
  }
  return "?";
}

bool is_failure(Outcome o) {
  switch (o) {
    case Outcome::AckIgnored:
    case Outcome::ResetAfterAck:
    case Outcome::Refused:
    case Outcome::Unreachable:
    case Outcome::Unanswered:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(Schedule s) {
  switch (s) {
    case Schedule::Single: return "single";
    case Schedule::LinuxExponential: return "exponential-1s";
    case Schedule::LinearThenExponential: return "linear-1s-then-exponential";
    case Schedule::Exponential3s: return "exponential-3s";
    case Schedule::Constant: return "constant";
    case Schedule::Irregular: return "irregular";
  }
  return "?";
}

std::string_view describe(Schedule s) {
  switch (s) {
    case Schedule::Single: return "one SYN";
    case Schedule::LinuxExponential: return "Linux backoff 1 s, 2 s, 4 s … (initial RTO 1 s)";
    case Schedule::LinearThenExponential: return "1 s gaps then doubling (Linux >= 6.5 tcp_syn_linear_timeouts, or macOS)";
    case Schedule::Exponential3s: return "3 s, 6 s, 12 s … (Windows, or Linux before 3.1)";
    case Schedule::Constant: return "constant gaps (an application retry timer?)";
    case Schedule::Irregular: return "irregular gaps";
  }
  return "?";
}

std::string_view to_string(CauseKind c) {
  switch (c) {
    case CauseKind::PerHostPaws: return "per-host-paws";
    case CauseKind::AcceptQueueFull: return "accept-queue-full";
    case CauseKind::AbortOnOverflow: return "abort-on-overflow";
    case CauseKind::SynQueueFull: return "syn-queue-full";
    case CauseKind::NoListener: return "no-listener";
    case CauseKind::Filtered: return "filtered";
    case CauseKind::SilentHost: return "silent-host";
    case CauseKind::SilentPort: return "silent-port";
    case CauseKind::PacketLoss: return "packet-loss";
    case CauseKind::Unexplained: return "unexplained";
  }
  return "?";
}

std::string_view title(CauseKind c) {
  switch (c) {
    case CauseKind::PerHostPaws: return "per-host PAWS (tcp_tw_recycle + timestamps, NAT)";
    case CauseKind::AcceptQueueFull: return "accept queue full";
    case CauseKind::AbortOnOverflow: return "accept queue full, tcp_abort_on_overflow=1";
    case CauseKind::SynQueueFull: return "SYN queue full, no SYN cookies";
    case CauseKind::NoListener: return "refused: nothing listens (RST)";
    case CauseKind::Filtered: return "filtered (ICMP unreachable)";
    case CauseKind::SilentHost: return "server silent: host down, route or firewall";
    case CauseKind::SilentPort: return "port silent while the host answers elsewhere: firewall drop?";
    case CauseKind::PacketLoss: return "one-off loss, the retransmission worked";
    case CauseKind::Unexplained: return "unexplained";
  }
  return "?";
}

std::string_view section(CauseKind c) {
  switch (c) {
    case CauseKind::PerHostPaws: return "§3.1 step 7a, §7.1-§7.3";
    case CauseKind::AcceptQueueFull: return "§3.1 step 3, §5.2";
    case CauseKind::AbortOnOverflow: return "§5.2";
    case CauseKind::SynQueueFull: return "§3.1 steps 2 and 7b, §6";
    case CauseKind::NoListener: return "§2 step 3";
    default: return "";
  }
}

}  // namespace synscope::analyze
