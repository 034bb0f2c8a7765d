#include "analyze/packet_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/error.h"

namespace synscope::analyze {

namespace {

// Binary captures and the compressions CaptureReader opens or explains, by their first bytes; NUL
// bytes also mean "not text" (CaptureReader then names what it is not).
bool looks_binary(const unsigned char* m, std::size_t n) {
  const std::string_view head(reinterpret_cast<const char*>(m), n);
  return capture::capture_magic(head).has_value() || head.find('\0') != std::string_view::npos;
}

// Standard input after its first bytes were read to sniff it: a FILE* that gives those bytes back
// first and then the rest of the descriptor, so CaptureReader sees the whole stream.
struct PrefixedStdin {
  unsigned char head[4];
  std::size_t len = 0, pos = 0;

  static ssize_t read(void* cookie, char* buf, std::size_t n) {
    auto* s = static_cast<PrefixedStdin*>(cookie);
    if (s->pos < s->len) {
      const std::size_t k = std::min(n, s->len - s->pos);
      std::memcpy(buf, s->head + s->pos, k);
      s->pos += k;
      return static_cast<ssize_t>(k);
    }
    ssize_t r;
    do r = ::read(STDIN_FILENO, buf, n); while (r < 0 && errno == EINTR);
    return r;
  }
  static int close(void* cookie) {
    delete static_cast<PrefixedStdin*>(cookie);
    return 0;
  }
};

}  // namespace

PacketSource::PacketSource(PacketSource&&) noexcept = default;
PacketSource& PacketSource::operator=(PacketSource&&) noexcept = default;
PacketSource::~PacketSource() = default;

PacketSource PacketSource::open(const std::string& path, const SourceOptions& options) {
  PacketSource s;
  s.name_ = path;
  capture::TextParseOptions text_options;
  text_options.base_date = options.base_date;
  text_options.source_name = path == "-" ? "standard input" : path;

  if (path == "-") {
    auto* pre = new PrefixedStdin{};
    while (pre->len < sizeof pre->head) {
      ssize_t r = ::read(STDIN_FILENO, pre->head + pre->len, sizeof pre->head - pre->len);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        delete pre;
        throw UsageError(std::string("cannot read standard input: ") + std::strerror(errno));
      }
      if (r == 0) break;
      pre->len += static_cast<std::size_t>(r);
    }
    if (pre->len == 0) {
      delete pre;
      throw UsageError("standard input is empty: nothing to analyze");
    }
    if (looks_binary(pre->head, pre->len)) {
      cookie_io_functions_t io{};
      io.read = &PrefixedStdin::read;
      io.close = &PrefixedStdin::close;
      std::FILE* f = fopencookie(pre, "rb", io);
      if (!f) {
        delete pre;
        throw UsageError("cannot read standard input: fopencookie failed");
      }
      s.kind_ = InputKind::Capture;
      s.reader_ = std::make_unique<capture::CaptureReader>(capture::CaptureReader::open_stream(f, "-"));
      return s;
    }
    std::string text(reinterpret_cast<const char*>(pre->head), pre->len);
    delete pre;
    char buf[1 << 16];
    for (;;) {
      ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw UsageError(std::string("cannot read standard input: ") + std::strerror(errno));
      if (r == 0) break;
      text.append(buf, static_cast<std::size_t>(r));
    }
    s.kind_ = InputKind::TcpdumpText;
    s.text_ = std::make_unique<capture::TextCapture>(capture::TcpdumpTextParser::parse_text(text, text_options));
    return s;
  }

  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw UsageError(path + ": is a directory, not a capture");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  unsigned char head[4] = {};
  ssize_t got;
  do got = ::pread(fd, head, sizeof head, 0); while (got < 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  if (got < 0) throw UsageError(path + ": cannot read: " + std::strerror(saved));
  if (got == 0) throw UsageError(path + ": the file is empty: nothing to analyze");
  if (looks_binary(head, static_cast<std::size_t>(got))) {
    s.kind_ = InputKind::Capture;
    s.reader_ = std::make_unique<capture::CaptureReader>(capture::CaptureReader::open(path));
  } else {
    s.kind_ = InputKind::TcpdumpText;
    s.text_ = std::make_unique<capture::TextCapture>(capture::TcpdumpTextParser::parse_file(path, text_options));
  }
  return s;
}

PacketSource PacketSource::open_live(const std::string& iface, const std::string& bpf_filter,
                                     const capture::LiveLimits& limits) {
  PacketSource s;
  s.kind_ = InputKind::Live;
  s.name_ = "live:" + iface;
  s.reader_ = std::make_unique<capture::CaptureReader>(capture::CaptureReader::open_live(iface, bpf_filter, limits));
  return s;
}

bool PacketSource::next(capture::CaptureItem& out) {
  if (reader_) return reader_->next(out);
  if (text_pos_ >= text_->packets.size()) return false;
  const capture::TextPacket& p = text_->packets[text_pos_++];
  out.kind = capture::CaptureItem::Kind::Tcp;
  out.tcp = p.record;
  out.frame = p.record.frame;
  out.interface = 0;
  out.encapsulation = p.record.encapsulation;
  out.tunnel = capture::TunnelKind::None;
  return true;
}

void PacketSource::request_stop() {
  if (reader_) reader_->request_stop();
}

std::string PacketSource::format() const {
  if (kind_ == InputKind::TcpdumpText) return "tcpdump text";
  return reader_->format();
}

std::uint64_t PacketSource::frames() const {
  if (reader_) return reader_->stats().frames;
  return text_pos_;
}

const capture::CaptureStats* PacketSource::capture_stats() const { return reader_ ? &reader_->stats() : nullptr; }
const capture::TextParseStats* PacketSource::text_stats() const { return text_ ? &text_->stats : nullptr; }

std::string PacketSource::display(const capture::IpAddress& addr) const {
  if (text_)
    if (const std::string* name = text_->host_name(addr)) return *name;
  return addr.str();
}

std::string PacketSource::stop_reason() const {
  if (reader_ && reader_->stats().stopped_early) return reader_->stats().stop_reason;
  return {};
}

}  // namespace synscope::analyze
