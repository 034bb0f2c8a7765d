#pragma once
// What the model decided about one segment, which rule decided it, and the counters it moved.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/counters.h"

namespace synscope::model {

// What happened to the segment.
enum class Action : std::uint8_t {
  SynAck,            // request queued, SYN-ACK sent
  CookieSynAck,      // SYN-ACK carrying a SYN cookie, no request kept
  SynAckRetransmit,  // retransmitted SYN found its request: SYN-ACK sent again
  Drop,              // silently discarded: no answer at all
  Rst,               // answered with RST
  Ack,               // answered with a (challenge/duplicate) ACK
  ChildCreated,      // final ACK accepted: connection queued for accept()
  Accepted,          // handled by an existing socket
  Ignored,           // discarded without consequence worth reporting
};
std::string_view to_string(Action a);

// The rules of the listen path; each has a stable id and the fact-sheet section it implements.
enum class Rule : std::uint8_t {
  NoListener,             // §2 step 3: no socket → RST
  SynFinFlags,            // §2 step 8: SYN+FIN to LISTEN discarded
  AckToListener,          // §2 step 8: ACK to LISTEN without request/cookie → RST
  SynQueueFullDrop,       // §3.1 step 2, §6: SYN queue full, syncookies off
  SynQueueFullCookie,     // §3.1 step 2, §10: SYN queue full, cookie sent
  SyncookiesAlways,       // §3.3 step 2, §10: tcp_syncookies=2
  AcceptQueueFull,        // §3.1 step 3: A > B (&& Y > 1) at SYN time
  PerHostPaws,            // §3.1 step 7a, §7.3: tw_recycle per-host PAWS
  UnprovenPeer,           // §3.1 step 7b: syncookies off, queue 3/4 full, peer unproven
  SynAckSent,             // §3.1 step 10: request queued, SYN-ACK sent
  RetransmittedSyn,       // §2 (last paragraph): SYN retransmission finds its request
  TimeWaitSynAccepted,    // §7.5: SYN accepted by a TIME_WAIT bucket, re-injected with isn
  TimeWaitSynRejected,    // §7.5: SYN rejected by a TIME_WAIT bucket → ACK
  FinalAckChildCreated,   // §5.1 step 8
  FinalAckQueueFull,      // §5.2: accept queue full at final ACK, ACK ignored (acked=1)
  FinalAckAbortOnOverflow,// §5.2: tcp_abort_on_overflow=1 → RST
  FinalAckBadAck,         // §5.1 step 3: wrong ack number → RST
  CookieAckValid,         // §10: valid cookie ACK → child
  CookieAckInvalid,       // §10: invalid cookie → SyncookiesFailed, RST
  SynAckTimeoutRetransmit,// §5.3: SYN-ACK timer resend
  SynAckTimeoutExpired,   // §5.3: request dropped silently after retries (pruned under pressure)
  ClientSynRetransmit,    // §9: client SYN retransmission
  ClientSynTimeout,       // §9: client gives up, ETIMEDOUT
  ClientRefused,          // §9: RST in SYN_SENT → ECONNREFUSED
  ClientEstablished,      // SYN-ACK accepted by the client
  Established,            // segment processed by an established/closing socket
  kCount
};

struct RuleInfo {
  std::string_view id;       // "per_host_paws"
  std::string_view title;    // "per-host PAWS (tcp_tw_recycle)"
  std::string_view section;  // "§3.1 step 7a, §7.3"
};
const RuleInfo& rule_info(Rule r);

// The numbers a rule looked at, so that an explanation can quote them.
struct Evidence {
  std::int64_t q = -1, b = -1, a = -1, young = -1, cap = -1;  // queues (§6)
  std::uint32_t syn_tsval = 0;                                // SYN's TSval
  bool syn_has_ts = false;
  std::uint32_t remembered_tsval = 0;                         // tcp_metrics tcpm_ts (§7.2)
  std::int64_t remembered_stamp_sec = 0;                      // tcpm_ts_stamp (unix seconds)
  std::int64_t now_sec = 0;                                   // get_seconds() at decision
  int retries = -1;                                           // SYN-ACK/SYN retries so far
};

struct Verdict {
  Action action = Action::Ignored;
  Rule rule = Rule::Established;
  std::array<Counter, 4> counters{};  // counters incremented by this decision
  std::uint8_t counter_count = 0;
  Evidence evidence{};

  void count(Counter c) {
    if (counter_count < counters.size()) counters[counter_count++] = c;
  }
  bool dropped() const { return action == Action::Drop; }
};

// One-line human explanation with the numbers ("accept queue full: A=3 > B=2 and young=2 > 1").
std::string describe(const Verdict& v);
std::string counters_text(const Verdict& v);  // "PAWSPassive ListenDrops"

}  // namespace synscope::model
