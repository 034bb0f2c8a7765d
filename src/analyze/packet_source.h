#pragma once
// One way in for everything `analyze` and `replay` read: a pcap/pcapng file (plain, gzip, zstd), a
// tcpdump text printout, standard input ("-", either kind), or a live interface. Binary captures
// stream through capture::CaptureReader; text is parsed whole by capture::TcpdumpTextParser (its
// sequence numbers need a second pass) and then handed out packet by packet.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "capture/capture_reader.h"
#include "capture/packet.h"
#include "capture/tcpdump_parser.h"

namespace synscope::analyze {

enum class InputKind : std::uint8_t { Capture, TcpdumpText, Live };

struct SourceOptions {
  // For tcpdump text whose time stamps carry no date: the UTC day they are placed on.
  WallTime base_date{};
};

class PacketSource {
 public:
  // Opens `path` ("-" = standard input), telling a binary capture from tcpdump text by its first
  // bytes. Throws UsageError (CaptureError for captures) with a one-line reason when it cannot.
  static PacketSource open(const std::string& path, const SourceOptions& options = {});
  static PacketSource open_live(const std::string& iface, const std::string& bpf_filter,
                                const capture::LiveLimits& limits);

  PacketSource(PacketSource&&) noexcept;
  PacketSource& operator=(PacketSource&&) noexcept;
  ~PacketSource();

  // The next TCP segment or ICMP error; false at the end (or where a damaged capture stopped).
  bool next(capture::CaptureItem& out);
  void request_stop();  // live captures: stop at the next packet (signal-safe)

  InputKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  std::string format() const;  // "pcap", "pcapng (gzip)", "tcpdump text", "live"
  std::uint64_t frames() const;  // frames (capture) or lines (text) read so far

  // Binary captures and live: the reader's statistics. Text: nullptr.
  const capture::CaptureStats* capture_stats() const;
  // Text: the parser's statistics and host names. Captures: nullptr.
  const capture::TextParseStats* text_stats() const;
  // How to print an address: the host name tcpdump printed when the text used names.
  std::string display(const capture::IpAddress& addr) const;
  // Text: pseudo-address -> printed host name (may be empty). Captures: nullptr.
  const std::map<capture::IpAddress, std::string>* host_names() const { return text_ ? &text_->host_names : nullptr; }

  // Where the input ended early (truncated/corrupt capture), else empty.
  std::string stop_reason() const;

 private:
  PacketSource() = default;
  InputKind kind_ = InputKind::Capture;
  std::string name_;
  std::unique_ptr<capture::CaptureReader> reader_;
  std::unique_ptr<capture::TextCapture> text_;
  std::size_t text_pos_ = 0;
};

}  // namespace synscope::analyze
