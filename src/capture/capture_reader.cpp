#include "capture/capture_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <pcap/pcap.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace synscope::capture {

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

namespace {

inline std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}

// libpcap messages are one line already; make sure nothing we pass on breaks that.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string display_name(const std::string& name) { return name == "-" ? "standard input" : "'" + name + "'"; }

std::string dlt_name(int dlt) {
  const char* n = pcap_datalink_val_to_name(dlt);
  return n ? n : "unknown";
}

// Link types we decode (values as pcap_datalink() reports them).
constexpr int kLinktypeRaw = 101;  // LINKTYPE_RAW, should libpcap ever hand it through unmapped
bool supported_dlt(int dlt) {
  switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case kLinktypeRaw:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_IEEE802_11:
    case DLT_IEEE802_11_RADIO:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// pcapng tap: libpcap does not report which interface a pcapng packet came from, so the byte
// stream is watched on its way to libpcap and the interface id of every packet block is queued.
// libpcap returns one packet per EPB/SPB/PB, in order, so popping one id per packet lines them up.
// The tap also remembers where each packet block ends, so a stop can name a byte offset.
// ---------------------------------------------------------------------------------------------

class PcapngTap {
 public:
  struct Entry {
    std::uint32_t interface;
    std::uint64_t end_offset;
  };

  PcapngTap() { ring_.resize(1024); }

  bool active() const { return active_; }
  void disable() { active_ = false; }

  void feed(const std::uint8_t* p, std::size_t n) {
    while (n > 0 && active_) {
      if (skip_ > 0) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, n));
        skip_ -= k;
        offset_ += k;
        p += k;
        n -= k;
        continue;
      }
      const std::size_t k = std::min<std::size_t>(kHeader - have_, n);
      std::memcpy(hdr_ + have_, p, k);
      have_ += k;
      offset_ += k;
      p += k;
      n -= k;
      if (have_ < kHeader) return;
      have_ = 0;
      const std::uint32_t type = be32(hdr_);  // read in either order: only the palindromic SHB type needs it first
      if (type == 0x0A0D0D0A) {
        if (be32(hdr_ + 8) == 0x1A2B3C4D)
          little_ = false;
        else if (le32(hdr_ + 8) == 0x1A2B3C4D)
          little_ = true;
        else {
          active_ = false;
          return;
        }
      } else if (first_) {
        active_ = false;  // not pcapng
        return;
      }
      first_ = false;
      const std::uint32_t block_type = u32(hdr_);
      const std::uint32_t len = u32(hdr_ + 4);
      if (len < kHeader || len % 4 != 0) {  // libpcap will report the corruption
        active_ = false;
        return;
      }
      const std::uint64_t end = offset_ - kHeader + len;
      if (block_type == 6)  // enhanced packet block
        push({u32(hdr_ + 8), end});
      else if (block_type == 3)  // simple packet block: always interface 0
        push({0, end});
      else if (block_type == 2)  // obsolete packet block: 16-bit interface id
        push({little_ ? le16(hdr_ + 8) : be16(hdr_ + 8), end});
      skip_ = len - kHeader;
    }
  }

  bool pop(Entry& e) {
    if (head_ == tail_) return false;
    e = ring_[head_ & (ring_.size() - 1)];
    ++head_;
    return true;
  }

 private:
  static constexpr std::size_t kHeader = 12;  // type, length, and the first body word
  std::uint32_t u32(const std::uint8_t* p) const { return little_ ? le32(p) : be32(p); }
  void push(Entry e) {
    if (tail_ - head_ == ring_.size()) {  // full: grow (amortised; a chunk of tiny blocks can queue many)
      std::vector<Entry> bigger(ring_.size() * 2);
      for (std::size_t i = 0; i < ring_.size(); ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
      tail_ = ring_.size();
      head_ = 0;
      ring_.swap(bigger);
    }
    ring_[tail_ & (ring_.size() - 1)] = e;
    ++tail_;
  }

  bool active_ = true;
  bool first_ = true;
  bool little_ = true;
  std::uint8_t hdr_[kHeader]{};
  std::size_t have_ = 0;
  std::uint64_t skip_ = 0;
  std::uint64_t offset_ = 0;
  std::vector<Entry> ring_;
  std::size_t head_ = 0, tail_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Byte source: a file descriptor or FILE*, optionally gzip/zstd-decompressed, offered to libpcap
// as a FILE* through fopencookie so that pipes and compressed files need no temporary file.
// ---------------------------------------------------------------------------------------------

enum class Codec { Plain, Gzip, Zstd };

class Source {
 public:
  Source(std::string name, int fd, bool own_fd, std::FILE* stream)
      : name_(std::move(name)), fd_(fd), own_fd_(own_fd), stream_(stream) {}
  ~Source() { release(); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Reads the first bytes and picks the codec. Throws CaptureError for unreadable or unsupported input.
  void sniff() {
    // A regular file is peeked at without consuming it, so that a plain pcap can go to libpcap as
    // an ordinary FILE* (stdio's fast path for files, as a bare pcap_open_offline gets).
    struct stat st {};
    off_t at = -1;
    if (fd_ >= 0 && fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) at = lseek(fd_, 0, SEEK_CUR);
    if (at >= 0) {
      ssize_t r;
      do r = pread(fd_, sniff_, sizeof sniff_, at); while (r < 0 && errno == EINTR);
      if (r < 0) throw CaptureError("cannot read capture " + display_name(name_) + ": " + std::strerror(errno));
      sniff_len_ = static_cast<std::size_t>(r);
      sniff_pos_ = sniff_len_;  // nothing to replay: the descriptor is still at the start
      regular_ = true;
      start_ = static_cast<std::uint64_t>(at);
    }
    while (sniff_len_ < sizeof sniff_ && !regular_) {
      const long r = read_raw(sniff_ + sniff_len_, sizeof sniff_ - sniff_len_, /*from_sniff=*/false);
      if (r < 0) throw CaptureError("cannot read capture " + display_name(name_) + ": " + error_);
      if (r == 0) break;
      sniff_len_ += static_cast<std::size_t>(r);
    }
    if (sniff_len_ == 0) throw CaptureError("cannot read capture " + display_name(name_) + ": the file is empty");
    const std::uint8_t* m = sniff_;
    if (sniff_len_ >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
      codec_ = Codec::Gzip;
      if (inflateInit2(&z_, 15 + 32) != Z_OK)
        throw CaptureError("cannot read capture " + display_name(name_) + ": zlib initialisation failed");
      z_ready_ = true;
    } else if (sniff_len_ >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
      codec_ = Codec::Zstd;
      zs_ = ZSTD_createDCtx();
      if (!zs_) throw CaptureError("cannot read capture " + display_name(name_) + ": zstd initialisation failed");
    } else if (sniff_len_ >= 4 && m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X') {
      throw CaptureError("cannot read capture " + display_name(name_) +
                         ": xz-compressed; only gzip and zstd are read directly (unxz it first)");
    } else if (sniff_len_ >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') {
      throw CaptureError("cannot read capture " + display_name(name_) +
                         ": bzip2-compressed; only gzip and zstd are read directly (bunzip2 it first)");
    }
    if (codec_ != Codec::Plain) in_.resize(1 << 17);
    const bool pcapng = sniff_len_ == 4 && be32(m) == 0x0A0D0D0A;
    direct_ = regular_ && codec_ == Codec::Plain && !pcapng;
    if (direct_) {
      magic_ = be32(m);
      pos_ = 0;
      tap_.disable();
    }
  }

  Codec codec() const { return codec_; }
  std::uint64_t position() const { return pos_; }
  bool direct() const { return direct_; }
  std::uint64_t start() const { return start_; }  // where the capture starts in a regular file
  std::uint32_t magic() const { return magic_; }  // first four decoded bytes, big-endian
  const std::string& error() const { return error_; }
  bool cut() const { return cut_; }
  PcapngTap& tap() { return tap_; }

  std::FILE* make_file() {
    if (direct_) {
      const int fd = own_fd_ ? fd_ : ::dup(fd_);
      std::FILE* f = fd >= 0 ? fdopen(fd, "rb") : nullptr;
      if (!f) {
        if (fd >= 0 && !own_fd_) ::close(fd);
        return nullptr;
      }
      own_fd_ = false;  // the FILE* owns it now
      fd_ = -1;
      setvbuf(f, nullptr, _IOFBF, 1 << 17);
      return f;
    }
    cookie_io_functions_t io{};
    io.read = &Source::cookie_read;
    io.write = nullptr;
    io.seek = &Source::cookie_seek;
    io.close = &Source::cookie_close;
    std::FILE* f = fopencookie(this, "rb", io);
    if (f) setvbuf(f, nullptr, _IOFBF, 1 << 17);
    return f;
  }

 private:
  static ssize_t cookie_read(void* cookie, char* buf, std::size_t n) {
    auto* s = static_cast<Source*>(cookie);
    const long r = s->decode(reinterpret_cast<std::uint8_t*>(buf), n);
    if (r < 0) {
      errno = EIO;
      return -1;
    }
    if (r > 0) {
      for (long i = 0; i < r && s->pos_ + static_cast<std::uint64_t>(i) < 4; ++i)
        s->magic_ = (s->magic_ << 8) | static_cast<std::uint8_t>(buf[i]);
      if (s->tap_.active()) s->tap_.feed(reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(r));
      s->pos_ += static_cast<std::uint64_t>(r);
    }
    return r;
  }
  // Only "where am I" is supported (ftell); libpcap never seeks a savefile.
  static int cookie_seek(void* cookie, off64_t* offset, int whence) {
    auto* s = static_cast<Source*>(cookie);
    if (whence == SEEK_CUR && *offset == 0) {
      *offset = static_cast<off64_t>(s->pos_);
      return 0;
    }
    errno = ESPIPE;
    return -1;
  }
  static int cookie_close(void* cookie) {
    static_cast<Source*>(cookie)->release();
    return 0;
  }

  void release() {
    if (z_ready_) inflateEnd(&z_), z_ready_ = false;
    if (zs_) ZSTD_freeDCtx(zs_), zs_ = nullptr;
    if (own_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (stream_) std::fclose(stream_), stream_ = nullptr;
  }

  // Raw (possibly compressed) bytes: the sniffed prefix first, then the descriptor or stream.
  long read_raw(std::uint8_t* buf, std::size_t n, bool from_sniff = true) {
    if (from_sniff && sniff_pos_ < sniff_len_) {
      const std::size_t k = std::min(n, sniff_len_ - sniff_pos_);
      std::memcpy(buf, sniff_ + sniff_pos_, k);
      sniff_pos_ += k;
      return static_cast<long>(k);
    }
    if (stream_) {
      const std::size_t r = std::fread(buf, 1, n, stream_);
      if (r == 0 && std::ferror(stream_)) {
        error_ = std::string("read error: ") + std::strerror(errno);
        return -1;
      }
      return static_cast<long>(r);
    }
    if (fd_ < 0) return 0;
    for (;;) {
      const ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<long>(r);
      if (errno == EINTR) continue;
      error_ = std::strerror(errno);
      return -1;
    }
  }

  bool fill_input() {
    if (in_pos_ < in_len_ || in_eof_) return true;
    const long r = read_raw(in_.data(), in_.size());
    if (r < 0) return false;
    in_pos_ = 0;
    in_len_ = static_cast<std::size_t>(r);
    if (r == 0) in_eof_ = true;
    return true;
  }

  // Decoded bytes for libpcap: >0 bytes, 0 at the end, -1 on error (message in error_).
  long decode(std::uint8_t* buf, std::size_t n) {
    if (failed_) return -1;
    switch (codec_) {
      case Codec::Plain: {
        const long r = read_raw(buf, n);
        if (r < 0) failed_ = true;
        return r;
      }
      case Codec::Gzip: return inflate_some(buf, n);
      case Codec::Zstd: return unzstd_some(buf, n);
    }
    return -1;
  }

  long inflate_some(std::uint8_t* buf, std::size_t n) {
    if (pending_failure_) return failed_ = true, -1;
    while (!finished_) {
      if (!fill_input()) return failed_ = true, -1;
      if (member_done_) {
        // Another gzip member may follow (concatenated .gz files are one stream); anything else
        // after the end is ignored, as gzip -d does with trailing garbage.
        if (in_pos_ == in_len_) {
          finished_ = true;
          break;
        }
        if (in_[in_pos_] != 0x1f) {
          finished_ = true;
          break;
        }
        inflateReset(&z_);
        member_done_ = false;
      }
      z_.next_in = in_.data() + in_pos_;
      z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      z_.next_out = buf;
      z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
      const int ret = inflate(&z_, Z_NO_FLUSH);
      const std::size_t produced = std::min<std::size_t>(n, 1u << 30) - z_.avail_out;
      in_pos_ = in_len_ - z_.avail_in;
      if (ret == Z_STREAM_END) {
        member_done_ = true;
      } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        error_ = std::string("gzip data corrupt: ") + (z_.msg ? z_.msg : "inflate error " + std::to_string(ret));
        if (produced > 0) {
          pending_failure_ = true;  // hand out what was decoded, fail on the next call
          return static_cast<long>(produced);
        }
        failed_ = true;
        return -1;
      }
      if (produced > 0) return static_cast<long>(produced);
      if (!member_done_ && in_eof_ && in_pos_ == in_len_) {
        cut_ = true;  // the compressed file ends inside a member
        finished_ = true;
      }
    }
    return 0;
  }

  long unzstd_some(std::uint8_t* buf, std::size_t n) {
    while (!finished_) {
      if (pending_failure_) return failed_ = true, -1;
      if (!fill_input()) return failed_ = true, -1;
      ZSTD_inBuffer ib{in_.data(), in_len_, in_pos_};
      ZSTD_outBuffer ob{buf, n, 0};
      const std::size_t before = ib.pos;
      const std::size_t r = ZSTD_decompressStream(zs_, &ob, &ib);
      in_pos_ = ib.pos;
      if (ZSTD_isError(r)) {
        error_ = std::string("zstd data corrupt: ") + ZSTD_getErrorName(r);
        if (ob.pos > 0) {
          pending_failure_ = true;
          return static_cast<long>(ob.pos);
        }
        failed_ = true;
        return -1;
      }
      // r == 0: a frame ended and is flushed; a call that consumed and produced nothing says nothing.
      if (r == 0)
        zstd_frame_open_ = false;
      else if (ib.pos > before || ob.pos > 0)
        zstd_frame_open_ = true;
      if (ob.pos > 0) return static_cast<long>(ob.pos);
      if (in_eof_ && in_pos_ == in_len_) {
        if (zstd_frame_open_) cut_ = true;
        finished_ = true;
      }
    }
    return 0;
  }

  std::string name_;
  int fd_ = -1;
  bool own_fd_ = false;
  std::FILE* stream_ = nullptr;
  std::uint8_t sniff_[4]{};
  std::size_t sniff_len_ = 0, sniff_pos_ = 0;
  Codec codec_ = Codec::Plain;
  z_stream z_{};
  bool z_ready_ = false;
  bool member_done_ = false;
  ZSTD_DCtx* zs_ = nullptr;
  bool zstd_frame_open_ = false;
  std::vector<std::uint8_t> in_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  bool in_eof_ = false;
  bool finished_ = false;
  bool failed_ = false;
  bool pending_failure_ = false;
  bool cut_ = false;
  std::uint64_t pos_ = 0;
  std::uint32_t magic_ = 0;
  bool regular_ = false;  // a regular file, peeked at with pread
  bool direct_ = false;   // handed to libpcap as a plain FILE*, no cookie
  std::uint64_t start_ = 0;
  std::string error_;
  PcapngTap tap_;
};

// ---------------------------------------------------------------------------------------------
// Plain pcap files read directly. libpcap copies every record out of stdio's buffer, which stdio
// filled with a read() copy of the page cache: two copies of every byte, a quarter of analyze's
// run time. A regular, uncompressed pcap file is read here instead, 1 MiB at a time into our own
// buffer, and its records are handed out where they lie in it: one copy, by the kernel, into memory
// that stays in the CPU's cache until it is decoded. (Mapping the file avoided the copy but paid a
// page-table entry per 4 KiB page mapped and unmapped, more kernel time than the copy it saved.)
// Only the well-formed case is done here: the first record that is in any way unusual (cut short,
// caplen beyond the snapshot length, time stamps libpcap would read as negative, a read error), and
// every format with quirks (pcapng, the modified and swapped-length variants, pseudo-headers libpcap
// byte-swaps), is left to libpcap from that record on, by seeking its FILE* there, so every message
// and edge case stays libpcap's own. Pipes, compressed files, pcapng and live captures never come
// here.
// ---------------------------------------------------------------------------------------------

class DirectPcap {
 public:
  // Takes over reading `fd` when the capture (starting at `start`, already opened by libpcap as
  // `dlt` with snapshot length `snapshot`) qualifies; otherwise active() stays false.
  DirectPcap(int fd, std::uint64_t start, int dlt, int snapshot) {
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || snapshot <= 0) return;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint: larger read-ahead
    fd_ = fd;
    buffer_ = std::make_unique<std::uint8_t[]>(kCapacity);
    buffer_at_ = start;
    if (!fill(24) || !takes_header(buffer_.get(), dlt)) {
      fd_ = -1;  // not active: libpcap reads it all
      buffer_.reset();
      return;
    }
    cur_ = 24;
    // libpcap refuses records beyond its maximum for these link types (262144) and cuts those
    // beyond the snapshot length: both are left to it.
    max_caplen_ = std::min<std::uint32_t>(static_cast<std::uint32_t>(snapshot), 262144);
  }

  bool active() const { return fd_ >= 0; }
  std::uint64_t position() const { return buffer_at_ + cur_; }  // where the next record starts

  // The next record, as libpcap (asked for nanoseconds) would return it; false where libpcap must
  // take over, at position(). `data` stays valid until the next call.
  bool next(pcap_pkthdr& h, const std::uint8_t*& data) {
    if (end_ - cur_ < 16 && !fill(16)) return false;
    const std::uint8_t* r = buffer_.get() + cur_;
    const std::uint32_t sec = u32(r), frac = u32(r + 4), caplen = u32(r + 8), len = u32(r + 12);
    if (caplen > max_caplen_) return false;
    if ((sec | frac) >> 31) return false;  // libpcap reads these as signed 32-bit values
    if (end_ - cur_ - 16 < caplen) {
      if (!fill(16 + std::size_t{caplen})) return false;
      r = buffer_.get() + cur_;
    }
    h.ts.tv_sec = static_cast<time_t>(sec);
    h.ts.tv_usec = static_cast<suseconds_t>(nano_ ? std::int64_t{frac} : std::int64_t{frac} * 1000);
    h.caplen = caplen;
    h.len = len;
    data = r + 16;
    cur_ += 16 + std::size_t{caplen};
    return true;
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 20;
  // A chunk after the unread part of a record as large as libpcap allows (262144 + its header).
  static constexpr std::size_t kCapacity = kChunk + 262144 + 16;

  // Link types whose records libpcap hands out untouched (it byte-swaps some pseudo-headers of
  // cooked captures written on the other byte order).
  static bool in_place_dlt(int dlt, bool swapped) {
    const bool cooked = dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2;
    return supported_dlt(dlt) && !(cooked && swapped);
  }
  std::uint32_t u32(const std::uint8_t* p) const { return swapped_ ? be32(p) : le32(p); }

  // Whether the 24-byte file header `h` is one read here: pcap 2.4, in either byte order, with
  // micro- or nanosecond stamps (noted), of a link type libpcap hands out untouched.
  bool takes_header(const std::uint8_t* h, int dlt) {
    const std::uint32_t magic = le32(h);
    bool ok = true;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) swapped_ = false;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) swapped_ = true;
    else ok = false;
    nano_ = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    // Version 2.4 only: older versions may have caplen and len swapped, which libpcap guesses at.
    const std::uint16_t major = swapped_ ? be16(h + 4) : le16(h + 4);
    const std::uint16_t minor = swapped_ ? be16(h + 6) : le16(h + 6);
    return ok && major == 2 && minor >= 4 && in_place_dlt(dlt, swapped_);
  }

  // Moves the unread bytes to the front and reads up to a chunk more; true when at least `need`
  // bytes are then unread. False at the end of the file or on a read error, which libpcap, reading
  // on from position(), then meets and reports itself.
  bool fill(std::size_t need) {
    const std::size_t have = end_ - cur_;
    if (have > 0 && cur_ > 0) std::memmove(buffer_.get(), buffer_.get() + cur_, have);
    buffer_at_ += cur_;
    cur_ = 0;
    end_ = have;
    while (end_ < need) {
      const std::size_t room = std::min(kChunk, kCapacity - end_);
      const ssize_t r = ::pread(fd_, buffer_.get() + end_, room, static_cast<off_t>(buffer_at_ + end_));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      end_ += static_cast<std::size_t>(r);
    }
    return true;
  }

  int fd_ = -1;  // not ours: libpcap's FILE* owns it
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::uint64_t buffer_at_ = 0;  // file offset of buffer_[0]
  std::size_t cur_ = 0, end_ = 0;  // the next record's offset in buffer_; the end of what was read
  std::uint32_t max_caplen_ = 0;
  bool swapped_ = false, nano_ = false;
};

// TCP options from q to e (cut: the snapshot length ended them early, already flagged), in wire
// order; impossible lengths are counted in stats.bad_tcp_options and end the list there.
void parse_tcp_options(const std::uint8_t* q, const std::uint8_t* e, bool cut, TcpOptions& opts, CaptureStats& stats) {
  while (q < e) {
    const std::uint8_t kind = q[0];
    if (kind == 0) {
      opts.push({TcpOptionKind::Eol});
      return;
    }
    if (kind == 1) {
      opts.nop();
      ++q;
      continue;
    }
    if (e - q < 2) {
      if (!cut) ++stats.bad_tcp_options;
      return;
    }
    const std::size_t len = q[1];
    if (len < 2) {
      ++stats.bad_tcp_options;
      return;
    }
    if (static_cast<std::size_t>(e - q) < len) {
      if (!cut) ++stats.bad_tcp_options;  // else the snapshot length cut it: already flagged
      return;
    }
    switch (kind) {
      case 2:
        if (len == 4) opts.mss(be16(q + 2)); else ++stats.bad_tcp_options;
        break;
      case 3:
        if (len == 3) opts.wscale(q[2]); else ++stats.bad_tcp_options;
        break;
      case 4:
        if (len == 2) opts.sack_ok(); else ++stats.bad_tcp_options;
        break;
      case 8:
        if (len == 10) opts.timestamp(be32(q + 2), be32(q + 6)); else ++stats.bad_tcp_options;
        break;
      default: {
        // Other kinds keep their number, the first (up to) 4 data bytes in `a` and the data
        // length in `b` (tcp_wire.h's convention).
        const std::size_t data = len - 2;
        std::uint32_t a = 0;
        for (std::size_t i = 0; i < std::min<std::size_t>(data, 4); ++i) a = (a << 8) | q[2 + i];
        opts.push({static_cast<TcpOptionKind>(kind), a, static_cast<std::uint32_t>(data)});
        break;
      }
    }
    q += len;
  }
}

// ---------------------------------------------------------------------------------------------
// The decoder: link → (tags, tunnels) → IP → TCP / ICMP, straight from libpcap's buffer.
// ---------------------------------------------------------------------------------------------

enum class Result : std::uint8_t { Tcp, Icmp, Other, Truncated, Malformed, Opaque, Fragment };

constexpr int kMaxNesting = 4;  // tunnels inside tunnels, beyond which we give up on the frame

struct Decoder {
  CaptureItem* out = nullptr;
  CaptureStats* stats = nullptr;
  const std::uint8_t* end = nullptr;  // end of the captured bytes
  std::uint32_t missing = 0;          // wire length - captured length
  bool vlan = false;
  bool inner_v6 = false;
  TunnelKind tunnel = TunnelKind::None;
  int depth = 0;

  std::size_t avail(const std::uint8_t* p) const { return p < end ? static_cast<std::size_t>(end - p) : 0; }
  // Bytes the wire frame had from p on (for length fields of 0: TSO segments, jumbograms).
  std::size_t wire(const std::uint8_t* p) const { return avail(p) + missing; }

  bool enter_tunnel(TunnelKind kind) {
    if (tunnel == TunnelKind::None) tunnel = kind;
    return ++depth <= kMaxNesting;
  }

  // ---- link layers ----

  Result link(int dlt, const std::uint8_t* p) {
    switch (dlt) {
      case DLT_EN10MB: return ethernet(p);
      case DLT_LINUX_SLL: {
        if (avail(p) < 16) return Result::Truncated;
        return cooked(be16(p + 2), be16(p + 14), p + 16);
      }
      case DLT_LINUX_SLL2: {
        if (avail(p) < 20) return Result::Truncated;
        return cooked(be16(p + 8), be16(p), p + 20);
      }
      case DLT_RAW:
      case kLinktypeRaw: return ip_any(p);
      case DLT_IPV4: return ipv4(p);
      case DLT_IPV6: return ipv6(p);
      case DLT_NULL:
      case DLT_LOOP: {
        if (avail(p) < 4) return Result::Truncated;
        // The address family is in the capturing host's byte order (DLT_NULL) or big-endian
        // (DLT_LOOP); either way the value is small, so the order whose value fits 16 bits wins.
        std::uint32_t family = le32(p);
        if (family > 0xffff) family = be32(p);
        switch (family) {
          case 2: return ipv4(p + 4);                                  // AF_INET everywhere
          case 10: case 24: case 28: case 30: return ipv6(p + 4);      // AF_INET6: Linux, BSDs, Darwin
          default: return Result::Other;
        }
      }
      case DLT_IEEE802_11: return wlan(p);
      case DLT_IEEE802_11_RADIO: {
        if (avail(p) < 8) return Result::Truncated;
        const std::size_t len = le16(p + 2);
        if (p[0] != 0 || len < 8) return Result::Malformed;
        if (avail(p) < len) return Result::Truncated;
        return wlan(p + len);
      }
      default: return Result::Other;
    }
  }

  // Linux cooked capture v1/v2: ARPHRD type and protocol (an EtherType, or a small number for
  // non-Ethernet-II frames).
  Result cooked(std::uint16_t hatype, std::uint16_t protocol, const std::uint8_t* p) {
    if (hatype == 824) return Result::Other;  // ARPHRD_NETLINK: protocol is a netlink family
    if (protocol >= 0x0600) return ethertype(protocol, p);
    if (protocol == 0x0004) return llc(p);  // ETH_P_802_2
    return Result::Other;
  }

  Result ethernet(const std::uint8_t* p) {
    if (avail(p) < 14) return Result::Truncated;
    const std::uint16_t type = be16(p + 12);
    if (type >= 0x0600) return ethertype(type, p + 14);
    return llc(p + 14);  // 802.3 length field: LLC follows
  }

  // 802.2 LLC; only SNAP with an EtherType carries IP.
  Result llc(const std::uint8_t* p) {
    if (avail(p) < 3) return Result::Truncated;
    if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03) return Result::Other;
    if (avail(p) < 8) return Result::Truncated;
    return ethertype(be16(p + 6), p + 8);
  }

  Result ethertype(std::uint16_t type, const std::uint8_t* p) {
    for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100 || type == 0x9200; ++tags) {
      if (tags >= 8) return Result::Malformed;
      if (avail(p) < 4) return Result::Truncated;
      vlan = true;
      type = be16(p + 2);
      p += 4;
    }
    switch (type) {
      case 0x0800: return ipv4(p);
      case 0x86dd: return ipv6(p);
      case 0x8847:
      case 0x8848: return mpls(p);
      case 0x8864: return pppoe(p);
      default: return Result::Other;
    }
  }

  Result mpls(const std::uint8_t* p) {
    for (int labels = 0;; ++labels) {
      if (labels >= 16) return Result::Malformed;
      if (avail(p) < 4) return Result::Truncated;
      const bool bottom = p[2] & 1;
      p += 4;
      if (bottom) break;
    }
    if (avail(p) < 1) return Result::Truncated;
    const int version = p[0] >> 4;
    if (version == 4) return ipv4(p);
    if (version == 6) return ipv6(p);
    return Result::Other;  // pseudowire etc.
  }

  Result pppoe(const std::uint8_t* p) {
    if (avail(p) < 8) return Result::Truncated;
    if (p[0] != 0x11 || p[1] != 0x00) return Result::Other;  // version/type 1, session data
    return ppp_protocol(be16(p + 6), p + 8);
  }

  Result ppp_protocol(std::uint16_t proto, const std::uint8_t* p) {
    if (proto == 0x0021) return ipv4(p);
    if (proto == 0x0057) return ipv6(p);
    return Result::Other;
  }

  // 802.11 data frame → LLC/SNAP → EtherType.
  Result wlan(const std::uint8_t* p) {
    if (avail(p) < 2) return Result::Truncated;
    const std::uint8_t fc0 = p[0], fc1 = p[1];
    if ((fc0 & 0x03) != 0) return Result::Malformed;  // protocol version 0 only
    const int type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
    if (type != 2 || (subtype & 0x4)) return Result::Other;  // management, control, or no body
    if (fc1 & 0x40) return Result::Opaque;                   // protected (encrypted) frame
    std::size_t hl = 24;
    if ((fc1 & 0x03) == 0x03) hl += 6;  // ToDS and FromDS: four addresses
    bool amsdu = false;
    if (subtype & 0x8) {  // QoS data
      if (avail(p) < hl + 2) return Result::Truncated;
      amsdu = p[hl] & 0x80;
      hl += 2;
      if (fc1 & 0x80) hl += 4;  // HT control
    }
    if (avail(p) < hl) return Result::Truncated;
    p += hl;
    if (amsdu) p += 14;  // first A-MSDU subframe: DA, SA, length, then LLC
    return llc(p);
  }

  // ---- IP ----

  Result ip_any(const std::uint8_t* p) {
    if (avail(p) < 1) return Result::Truncated;
    const int version = p[0] >> 4;
    if (version == 4) return ipv4(p);
    if (version == 6) return ipv6(p);
    return Result::Other;
  }

  Result ipv4(const std::uint8_t* p) {
    if (avail(p) < 20) return Result::Truncated;
    if ((p[0] >> 4) != 4) return Result::Malformed;
    const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
    if (ihl < 20) return Result::Malformed;
    if (avail(p) < ihl) return Result::Truncated;
    std::size_t total = be16(p + 2);
    if (total == 0) total = wire(p);  // TSO/GSO segments captured before segmentation
    if (total < ihl) return Result::Malformed;
    if ((be16(p + 6) & 0x1fff) != 0) return Result::Fragment;  // no transport header in it
    return transport(p[9], p + 12, p + 16, false, p[8], p + ihl, static_cast<std::uint32_t>(total - ihl));
  }

  // Walks IPv6 extension headers from next-header `nh` at `q` with `remaining` bytes of payload.
  // Returns Other when it reaches a header it does not know; sets nh/q/remaining to the transport.
  Result ipv6_extensions(std::uint8_t& nh, const std::uint8_t*& q, std::size_t& remaining) {
    for (int n = 0; n < 16; ++n) {
      std::size_t len;
      switch (nh) {
        case 0:     // hop-by-hop options
        case 43:    // routing
        case 60:    // destination options
        case 135:   // mobility
        case 139:   // HIP
        case 140:   // shim6
          if (avail(q) < 2) return Result::Truncated;
          len = (std::size_t{q[1]} + 1) * 8;
          break;
        case 51:  // authentication header
          if (avail(q) < 2) return Result::Truncated;
          len = (std::size_t{q[1]} + 2) * 4;
          break;
        case 44:  // fragment
          if (avail(q) < 8) return Result::Truncated;
          if ((be16(q + 2) & 0xfff8) != 0) return Result::Fragment;
          len = 8;
          break;
        default: return Result::Tcp;  // not an extension header: q is the transport header
      }
      if (len > remaining) return Result::Malformed;
      if (avail(q) < len) return Result::Truncated;
      nh = q[0];
      q += len;
      remaining -= len;
    }
    return Result::Malformed;  // an endless chain
  }

  Result ipv6(const std::uint8_t* p) {
    if (avail(p) < 40) return Result::Truncated;
    if ((p[0] >> 4) != 6) return Result::Malformed;
    std::size_t remaining = be16(p + 4);
    if (remaining == 0) remaining = wire(p) >= 40 ? wire(p) - 40 : 0;  // jumbogram or TSO
    std::uint8_t nh = p[6];
    const std::uint8_t* q = p + 40;
    const Result r = ipv6_extensions(nh, q, remaining);
    if (r != Result::Tcp) return r;
    return transport(nh, p + 8, p + 24, true, p[7], q, static_cast<std::uint32_t>(remaining));
  }

  Result transport(std::uint8_t proto, const std::uint8_t* src, const std::uint8_t* dst, bool v6, std::uint8_t ttl,
                   const std::uint8_t* p, std::uint32_t len) {
    switch (proto) {
      case 6: return tcp(src, dst, v6, ttl, p, len);
      case 1: return v6 ? Result::Other : icmp4(src, p);
      case 58: return v6 ? icmp6(src, p) : Result::Other;
      case 47: return gre(p);
      case 4:
        if (!enter_tunnel(TunnelKind::IpInIp)) return Result::Opaque;
        return ipv4(p);
      case 41:
        if (!enter_tunnel(TunnelKind::IpInIp)) return Result::Opaque;
        return ipv6(p);
      case 17: return udp(p);
      default: return Result::Other;
    }
  }

  static void set_addr(IpAddress& a, const std::uint8_t* raw, bool v6) {
    if (v6) {
      std::memcpy(a.bytes.data(), raw, 16);
      a.v6 = true;
    } else {
      // ::ffff:a.b.c.d as two 8-byte stores (a 10-byte memset was a library call per address).
      const std::uint64_t zeros = 0;
      std::uint8_t low_half[8] = {0, 0, 0xff, 0xff};
      std::memcpy(low_half + 4, raw, 4);
      std::memcpy(a.bytes.data(), &zeros, 8);
      std::memcpy(a.bytes.data() + 8, low_half, 8);
      a.v6 = false;
    }
  }

  // ---- TCP ----

  // The fixed TCP header at p (at least 16 bytes captured) and the IP addresses around it; the
  // option list emptied for the caller to fill.
  static void fill_tcp_header(PacketRecord& r, const std::uint8_t* src, const std::uint8_t* dst, bool v6,
                              std::uint8_t ttl, const std::uint8_t* p, std::uint32_t payload_len) {
    set_addr(r.src.addr, src, v6);
    set_addr(r.dst.addr, dst, v6);
    r.src.port = be16(p);
    r.dst.port = be16(p + 2);
    r.seq = be32(p + 4);
    r.ack = be32(p + 8);
    r.flags = p[13];
    r.window = be16(p + 14);
    r.payload_len = payload_len;
    r.ttl = ttl;
    r.options.clear();
  }

  Result tcp(const std::uint8_t* src, const std::uint8_t* dst, bool v6, std::uint8_t ttl, const std::uint8_t* p,
             std::uint32_t len) {
    const std::size_t have = avail(p);
    if (have < 16) return Result::Truncated;  // not even ports, numbers, flags and window
    const std::size_t doff = static_cast<std::size_t>(p[12] >> 4) * 4;
    if (doff < 20 || doff > len) return Result::Malformed;
    PacketRecord& r = out->tcp;
    fill_tcp_header(r, src, dst, v6, ttl, p, static_cast<std::uint32_t>(len - doff));
    r.truncated = have < doff;
    if (have > 20) parse_tcp_options(p + 20, p + std::min(have, doff), r.truncated, r.options, *stats);
    inner_v6 = v6;
    return Result::Tcp;
  }

  // ---- ICMP errors that quote TCP ----

  Result icmp4(const std::uint8_t* reporter, const std::uint8_t* p) {
    if (avail(p) < 2) return Result::Truncated;
    if (p[0] != 3) return Result::Other;  // destination unreachable only
    IcmpKind kind;
    switch (p[1]) {
      case 0: kind = IcmpKind::NetUnreachable; break;
      case 1: kind = IcmpKind::HostUnreachable; break;
      case 3: kind = IcmpKind::PortUnreachable; break;
      case 9: case 10: case 13: kind = IcmpKind::AdminProhibited; break;
      default: kind = IcmpKind::OtherUnreachable; break;
    }
    const std::uint8_t* q = p + 8;
    if (avail(q) < 20) return Result::Truncated;
    if ((q[0] >> 4) != 4) return Result::Other;
    const std::size_t ihl = std::size_t{q[0] & 0x0fu} * 4;
    if (ihl < 20) return Result::Other;
    if (q[9] != 6 || (be16(q + 6) & 0x1fff) != 0) return Result::Other;
    if (avail(q) < ihl + 8) return Result::Truncated;
    return icmp_record(reporter, false, kind, q + 12, q + 16, false, q + ihl);
  }

  Result icmp6(const std::uint8_t* reporter, const std::uint8_t* p) {
    if (avail(p) < 2) return Result::Truncated;
    if (p[0] != 1) return Result::Other;  // destination unreachable only
    IcmpKind kind;
    switch (p[1]) {
      case 0: kind = IcmpKind::NetUnreachable; break;       // no route
      case 1: case 5: case 6: kind = IcmpKind::AdminProhibited; break;  // prohibited, policy, reject route
      case 3: kind = IcmpKind::HostUnreachable; break;      // address unreachable
      case 4: kind = IcmpKind::PortUnreachable; break;
      default: kind = IcmpKind::OtherUnreachable; break;
    }
    const std::uint8_t* q = p + 8;
    if (avail(q) < 40) return Result::Truncated;
    if ((q[0] >> 4) != 6) return Result::Other;
    std::uint8_t nh = q[6];
    const std::uint8_t* t = q + 40;
    std::size_t remaining = avail(t);  // the quote is cut anyway: bound the walk by what is there
    const Result r = ipv6_extensions(nh, t, remaining);
    if (r == Result::Fragment || r == Result::Malformed) return Result::Other;
    if (r != Result::Tcp) return r;
    if (nh != 6) return Result::Other;
    if (avail(t) < 8) return Result::Truncated;
    return icmp_record(reporter, true, kind, q + 8, q + 24, true, t);
  }

  Result icmp_record(const std::uint8_t* reporter, bool reporter_v6, IcmpKind kind, const std::uint8_t* qsrc,
                     const std::uint8_t* qdst, bool quoted_v6, const std::uint8_t* qtcp) {
    IcmpRecord& r = out->icmp;
    set_addr(r.reporter, reporter, reporter_v6);
    set_addr(r.quoted_src.addr, qsrc, quoted_v6);
    set_addr(r.quoted_dst.addr, qdst, quoted_v6);
    r.quoted_src.port = be16(qtcp);
    r.quoted_dst.port = be16(qtcp + 2);
    r.quoted_seq = be32(qtcp + 4);
    r.kind = kind;
    inner_v6 = quoted_v6;
    return Result::Icmp;
  }

  // ---- tunnels ----

  static bool aruba_protocol(std::uint16_t proto) {
    return (proto & 0xff00) == 0x8200 || (proto & 0xff00) == 0x8300 || proto == 0x9000;
  }

  Result gre(const std::uint8_t* p) {
    if (avail(p) < 4) {
      enter_tunnel(TunnelKind::Gre);
      return Result::Truncated;
    }
    const std::uint16_t flags = be16(p);
    const std::uint16_t proto = be16(p + 2);
    TunnelKind kind = TunnelKind::Gre;
    if (proto == 0x6558) kind = TunnelKind::GreEthernet;
    else if (proto == 0x88be || proto == 0x22eb) kind = TunnelKind::Erspan;
    else if (aruba_protocol(proto)) kind = TunnelKind::Wlan;
    if (!enter_tunnel(kind)) return Result::Opaque;
    const int version = flags & 7;
    std::size_t hl = 4;
    if (version == 0) {
      if (flags & 0x4000) return Result::Opaque;  // RFC 1701 source routing
      if (flags & 0x8000) hl += 4;                // checksum + reserved
      if (flags & 0x2000) hl += 4;                // key
      if (flags & 0x1000) hl += 4;                // sequence number
    } else if (version == 1) {                    // enhanced GRE (PPTP): key always, ack optional
      hl += 4;
      if (flags & 0x1000) hl += 4;
      if (flags & 0x0080) hl += 4;
    } else {
      return Result::Opaque;
    }
    if (avail(p) < hl) return Result::Truncated;
    const std::uint8_t* q = p + hl;
    switch (proto) {
      case 0x0800: return ipv4(q);
      case 0x86dd: return ipv6(q);
      case 0x6558: return ethernet(q);
      case 0x8847:
      case 0x8848: return mpls(q);
      case 0x880b: return ppp(q);
      case 0x88be:
        if (!(flags & 0x1000)) return ethernet(q);  // ERSPAN type I: no header of its own
        if (avail(q) < 8) return Result::Truncated;
        if ((q[0] >> 4) != 1) return Result::Opaque;  // type II header carries version 1
        return ethernet(q + 8);
      case 0x22eb: {  // ERSPAN type III
        if (avail(q) < 12) return Result::Truncated;
        if ((q[0] >> 4) != 2) return Result::Opaque;
        const std::uint16_t w = be16(q + 10);
        const int frame_type = (w >> 10) & 0x1f;
        const std::size_t len = 12 + ((w & 1) ? 8 : 0);  // optional platform-specific subheader
        if (avail(q) < len) return Result::Truncated;
        if (frame_type == 0) return ethernet(q + len);
        if (frame_type == 2) return ip_any(q + len);
        return Result::Opaque;
      }
      default:
        if (aruba_protocol(proto)) return wlan(q);
        return Result::Opaque;
    }
  }

  // PPP inside enhanced GRE: optional address/control, 1- or 2-byte protocol.
  Result ppp(const std::uint8_t* p) {
    if (avail(p) < 2) return Result::Truncated;
    if (p[0] == 0xff && p[1] == 0x03) p += 2;
    if (avail(p) < 1) return Result::Truncated;
    if (p[0] & 1) return ppp_protocol(p[0], p + 1);  // compressed protocol field
    if (avail(p) < 2) return Result::Truncated;
    return ppp_protocol(be16(p), p + 2);
  }

  Result udp(const std::uint8_t* p) {
    if (avail(p) < 8) return Result::Other;  // not TCP either way
    const std::uint16_t sport = be16(p), dport = be16(p + 2);
    const std::uint8_t* q = p + 8;
    if (sport == 4789 || dport == 4789) {  // VXLAN
      if (avail(q) < 8 || !(q[0] & 0x08)) return Result::Other;
      if (!enter_tunnel(TunnelKind::Vxlan)) return Result::Opaque;
      return ethernet(q + 8);
    }
    if (sport == 6081 || dport == 6081) {  // Geneve
      if (avail(q) < 8 || (q[0] >> 6) != 0) return Result::Other;
      const std::size_t len = 8 + std::size_t{q[0] & 0x3fu} * 4;
      const std::uint16_t proto = be16(q + 2);
      if (!enter_tunnel(TunnelKind::Geneve)) return Result::Opaque;
      if (avail(q) < len) return Result::Truncated;
      if (proto == 0x6558) return ethernet(q + len);
      if (proto == 0x0800) return ipv4(q + len);
      if (proto == 0x86dd) return ipv6(q + len);
      return Result::Opaque;
    }
    return Result::Other;
  }
};

// Decodes one frame and counts it (everything but `frames` and the link-type counts). Returns
// true when `out` now holds a TCP or ICMP record (all but frame number, time and interface).
bool decode_and_count(int dlt, const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire_len,
                      CaptureItem& out, CaptureStats& st) {
  Decoder d;
  d.out = &out;
  d.stats = &st;
  d.end = data + caplen;
  d.missing = wire_len > caplen ? wire_len - caplen : 0;
  const Result r = d.link(dlt, data);

  if (d.vlan) ++st.vlan;
  const auto tk = static_cast<std::size_t>(d.tunnel);
  if (d.tunnel != TunnelKind::None) ++st.tunnelled[tk];
  switch (r) {
    case Result::Tcp:
    case Result::Icmp: break;
    case Result::Truncated: ++st.truncated_frames, ++st.other; return false;
    case Result::Malformed: ++st.malformed, ++st.other; return false;
    case Result::Fragment: ++st.fragments_skipped, ++st.other; return false;
    case Result::Opaque:
      if (d.tunnel != TunnelKind::None) ++st.tunnel_opaque[tk];
      ++st.other;
      return false;
    case Result::Other: ++st.other; return false;
  }
  if (d.tunnel != TunnelKind::None) ++st.tunnelled_tcp[tk];
  if (d.inner_v6) ++st.ipv6;
  const Encapsulation enc = d.tunnel != TunnelKind::None ? Encapsulation::Tunnel
                            : d.vlan                     ? Encapsulation::Vlan
                                                         : Encapsulation::None;
  out.encapsulation = enc;
  out.tunnel = d.tunnel;
  if (r == Result::Tcp) {
    out.kind = CaptureItem::Kind::Tcp;
    out.tcp.encapsulation = enc;
    ++st.tcp;
    if (out.tcp.truncated) ++st.truncated_frames;
  } else {
    out.kind = CaptureItem::Kind::Icmp;
    ++st.icmp;
  }
  return true;
}

// The frame nearly every capture taken on an Ethernet port is made of — untagged IPv4 without IP
// options, not a fragment, carrying a TCP header that is all there — decoded in one straight run.
// The general decoder's layers (link, tags, tunnels, IP versions, truncation at each step) cost
// about three times the instructions for the same result, a third of `analyze`'s time on such
// files. Returns false without touching `out` or `st` for anything else, which then takes
// decode_and_count; what it fills and counts for the frames it takes is exactly what that would.
inline bool decode_plain_tcp(int dlt, const std::uint8_t* data, std::uint32_t caplen, CaptureItem& out,
                             CaptureStats& st) {
  constexpr std::uint32_t kEthernet = 14, kIp = 20, kTcp = 20;
  if (dlt != DLT_EN10MB || caplen < kEthernet + kIp + kTcp || be16(data + 12) != 0x0800) return false;
  const std::uint8_t* ip = data + kEthernet;
  const std::uint32_t total = be16(ip + 2);
  // Version 4 with a 20-byte header; a length that holds a TCP header; no fragment offset; TCP.
  if (ip[0] != 0x45 || total < kIp + kTcp || (be16(ip + 6) & 0x1fff) != 0 || ip[9] != 6) return false;
  const std::uint8_t* p = ip + kIp;
  const std::uint32_t doff = static_cast<std::uint32_t>(p[12] >> 4) * 4;
  const std::uint32_t have = caplen - kEthernet - kIp;
  if (doff < kTcp || doff > total - kIp || have < doff) return false;
  PacketRecord& r = out.tcp;
  Decoder::fill_tcp_header(r, ip + 12, ip + 16, false, ip[8], p, total - kIp - doff);
  r.truncated = false;
  if (doff == kTcp + 12 && le32(p + kTcp) == 0x0a080101u) {  // NOP, NOP, timestamps: most segments of a
    r.options.nop();                                            // connection with timestamps on
    r.options.nop();
    r.options.timestamp(be32(p + kTcp + 4), be32(p + kTcp + 8));
  } else if (doff > kTcp) {
    parse_tcp_options(p + kTcp, p + doff, false, r.options, st);
  }
  r.encapsulation = Encapsulation::None;
  out.kind = CaptureItem::Kind::Tcp;
  out.encapsulation = Encapsulation::None;
  out.tunnel = TunnelKind::None;
  ++st.tcp;
  return true;
}

}  // namespace

bool decode_frame(int link_type, const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire_len,
                  CaptureItem& out, CaptureStats& stats) {
  ++stats.frames;
  if (!decode_and_count(link_type, data, caplen, wire_len, out, stats)) return false;
  out.frame = stats.frames;
  out.interface = 0;
  if (out.kind == CaptureItem::Kind::Tcp) {
    out.tcp.frame = stats.frames;
    out.tcp.ts = WallTime{};
    out.tcp.interface = 0;
  } else {
    out.icmp.frame = stats.frames;
    out.icmp.ts = WallTime{};
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// CaptureReader
// ---------------------------------------------------------------------------------------------

std::string_view tunnel_name(TunnelKind kind) {
  switch (kind) {
    case TunnelKind::None: return "none";
    case TunnelKind::Gre: return "GRE";
    case TunnelKind::GreEthernet: return "GRE (Ethernet bridging)";
    case TunnelKind::Erspan: return "ERSPAN";
    case TunnelKind::Wlan: return "802.11 in GRE";
    case TunnelKind::IpInIp: return "IP-in-IP";
    case TunnelKind::Vxlan: return "VXLAN";
    case TunnelKind::Geneve: return "Geneve";
  }
  return "?";
}

std::uint64_t CaptureStats::tunnelled_total() const {
  std::uint64_t n = 0;
  for (auto v : tunnelled) n += v;
  return n;
}

struct CaptureReader::Impl {
  std::string name;
  std::string format;
  pcap_t* pcap = nullptr;
  std::unique_ptr<Source> source;  // files and pipes; null for live captures
  std::unique_ptr<DirectPcap> direct;  // plain pcap files read directly until libpcap takes over
  bool pcapng = false;
  std::uint64_t record_header = 16;  // pcap record header size (24 for the "modified" format)
  std::uint64_t good_offset = 0;     // where the record after the last good one starts (pcap)
  int dlt = 0;
  std::int64_t ts_scale = 1;  // to nanoseconds
  bool live = false;
  LiveLimits limits;
  std::chrono::steady_clock::time_point deadline{};
  std::atomic<bool> stop{false};
  int selectable_fd = -1;
  bool done = false;
  CaptureStats stats;

  ~Impl() {
    direct.reset();
    if (pcap) pcap_close(pcap);  // closes the cookie FILE*, which releases the source's descriptors
  }

  // Live captures run non-blocking: libpcap's own read timeout does not fire while no packet
  // arrives (TPACKET_V3, immediate mode), so a quiet interface would never reach the time limit.
  void wait_for_packets() {
    auto slice = std::chrono::milliseconds(100);
    if (limits.max_duration.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      slice = std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1), slice);
    }
    if (selectable_fd >= 0) {
      pollfd pfd{selectable_fd, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(slice.count()));
    } else {
      std::this_thread::sleep_for(std::min(slice, std::chrono::milliseconds(10)));
    }
  }

  void finish() {
    if (done) return;
    done = true;
    if (live && pcap) {
      pcap_stat ps{};
      if (pcap_stats(pcap, &ps) == 0) {
        stats.kernel_dropped = ps.ps_drop;
        stats.interface_dropped = ps.ps_ifdrop;
      }
    }
  }

  // Where the record after the last good one starts (pcapng: where the last packet block ended).
  std::uint64_t stop_offset() const { return good_offset; }

  void stop_with(const std::string& reason) {
    stats.stopped_early = true;
    stats.stop_reason = one_line(reason);
    finish();
  }

  // Turns libpcap's read error into "truncated at frame F, byte offset N: ...".
  void read_error() {
    const std::uint64_t frame = stats.frames + 1;
    if (live) {
      stop_with("live capture on " + name.substr(5) + " failed after " + std::to_string(stats.frames) +
                " frames: " + pcap_geterr(pcap));
      return;
    }
    const std::string where = "frame " + std::to_string(frame) + ", byte offset " + std::to_string(stop_offset());
    if (source && !source->error().empty()) {
      stop_with("stopped at " + where + " (after " + std::to_string(stats.frames) + " frames): " + source->error());
      return;
    }
    const std::string msg = one_line(pcap_geterr(pcap));
    unsigned long want = 0, got = 0;
    if (std::sscanf(msg.c_str(), "truncated dump file; tried to read %lu captured bytes, only got %lu", &want, &got) == 2) {
      stop_with("truncated at " + where + ": packet record claims " + std::to_string(want) + " captured bytes, " +
                std::to_string(got) + " remain");
    } else if (std::sscanf(msg.c_str(), "truncated dump file; tried to read %lu header bytes, only got %lu", &want,
                           &got) == 2) {
      stop_with("truncated at " + where + ": packet record header cut after " + std::to_string(got) + " of " +
                std::to_string(want) + " bytes");
    } else if (std::sscanf(msg.c_str(), "truncated pcapng dump file; tried to read %lu bytes, only got %lu", &want,
                           &got) == 2) {
      stop_with("truncated at " + where + ": pcapng block needs " + std::to_string(want) + " more bytes, " +
                std::to_string(got) + " remain");
    } else if (msg.find("different from the type of the first interface") != std::string::npos) {
      stop_with("cannot go on at " + where + ": the pcapng file mixes interfaces of different link types, which "
                "libpcap does not read (" + msg + ")");
    } else {
      stop_with("corrupt capture at " + where + ": " + msg);
    }
    if (source && source->cut()) stats.stop_reason += " (the compressed file itself is cut short)";
  }

  void check_link_type() {
    dlt = pcap_datalink(pcap);
    if (!supported_dlt(dlt)) {
      const char* desc = pcap_datalink_val_to_description(dlt);
      throw CaptureError("cannot read capture " + display_name(name) + ": unsupported link type " + std::to_string(dlt) +
                         " (" + dlt_name(dlt) + (desc ? std::string(", ") + desc : std::string()) + ")");
    }
    stats.link_types.push_back({dlt, dlt_name(dlt), 0});
  }
};

CaptureReader::CaptureReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CaptureReader::CaptureReader(CaptureReader&&) noexcept = default;
CaptureReader& CaptureReader::operator=(CaptureReader&&) noexcept = default;
CaptureReader::~CaptureReader() = default;

namespace {

std::unique_ptr<CaptureReader::Impl> open_source(std::unique_ptr<Source> source, const std::string& name) {
  auto impl = std::make_unique<CaptureReader::Impl>();
  impl->name = name;
  source->sniff();
  std::FILE* f = source->make_file();
  if (!f) throw CaptureError("cannot read capture " + display_name(name) + ": fopencookie failed");
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) {
    std::string reason = one_line(err);
    if (!source->error().empty())
      reason = source->error();
    else if (!source->direct() && source->position() == 0)
      reason = source->cut() ? "the compressed file is cut short before any complete data"
                             : "the compressed data decompresses to nothing";
    else if (reason.rfind("truncated dump file", 0) == 0 || reason.rfind("truncated pcapng", 0) == 0)
      reason = "the file header is cut short (" + reason + ")";
    std::fclose(f);  // libpcap leaves the stream to us on failure
    const char* codec = source->codec() == Codec::Gzip ? " (gzip)" : source->codec() == Codec::Zstd ? " (zstd)" : "";
    throw CaptureError("cannot read capture " + display_name(name) + codec + ": " + reason);
  }
  impl->pcap = p;
  impl->source = std::move(source);
  impl->ts_scale = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
  impl->pcapng = impl->source->tap().active();
  if (!impl->pcapng) {
    impl->source->tap().disable();
    impl->good_offset = 24;
    // The "modified" pcap format (Kuznetzov's patches) has 24-byte record headers.
    const std::uint32_t magic = impl->source->magic();
    if (magic == 0xa1b2cd34 || magic == 0x34cdb2a1) impl->record_header = 24;
  }
  impl->format = impl->pcapng ? "pcapng" : "pcap";
  impl->check_link_type();
  if (impl->source->direct() && !impl->pcapng && impl->record_header == 16) {
    auto d = std::make_unique<DirectPcap>(fileno(f), impl->source->start(), impl->dlt, pcap_snapshot(p));
    if (d->active()) impl->direct = std::move(d);
  }
  if (impl->source->codec() == Codec::Gzip) impl->format += " (gzip)";
  if (impl->source->codec() == Codec::Zstd) impl->format += " (zstd)";
  return impl;
}

}  // namespace

CaptureReader CaptureReader::open(const std::string& path) {
  if (path == "-") return CaptureReader(open_source(std::make_unique<Source>(path, STDIN_FILENO, false, nullptr), path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CaptureError("cannot read capture " + display_name(path) + ": " + std::strerror(errno));
  return CaptureReader(open_source(std::make_unique<Source>(path, fd, true, nullptr), path));
}

CaptureReader CaptureReader::open_stream(std::FILE* stream, const std::string& name) {
  if (!stream) throw CaptureError("cannot read capture " + display_name(name) + ": no stream");
  return CaptureReader(open_source(std::make_unique<Source>(name, -1, false, stream), name));
}

CaptureReader CaptureReader::open_live(const std::string& iface, const std::string& bpf_filter, const LiveLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->name = "live:" + iface;
  impl->format = "live";
  impl->live = true;
  impl->limits = limits;
  char err[PCAP_ERRBUF_SIZE] = "";
  const std::string where = "cannot capture on '" + iface + "': ";
  pcap_t* p = pcap_create(iface.c_str(), err);
  if (!p) throw CaptureError(where + one_line(err));
  impl->pcap = p;
  pcap_set_snaplen(p, limits.snaplen > 0 ? limits.snaplen : 262144);
  pcap_set_promisc(p, limits.promiscuous ? 1 : 0);
  pcap_set_timeout(p, 100);  // wake up to check the time limit and stop requests
  pcap_set_immediate_mode(p, 1);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);  // falls back to micro where unsupported
  const int rc = pcap_activate(p);
  if (rc < 0) {
    std::string msg = pcap_statustostr(rc);
    const std::string detail = one_line(pcap_geterr(p));
    if (!detail.empty()) msg += " (" + detail + ")";
    throw CaptureError(where + msg);
  }
  if (!bpf_filter.empty()) {
    bpf_program prog{};
    if (pcap_compile(p, &prog, bpf_filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0)
      throw CaptureError("bad capture filter '" + bpf_filter + "': " + one_line(pcap_geterr(p)));
    const int set = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (set < 0) throw CaptureError(where + "cannot set filter: " + one_line(pcap_geterr(p)));
  }
  impl->ts_scale = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
  if (pcap_setnonblock(p, 1, err) < 0) throw CaptureError(where + "cannot make the capture non-blocking: " + one_line(err));
  impl->selectable_fd = pcap_get_selectable_fd(p);
  try {
    impl->check_link_type();
  } catch (const CaptureError&) {
    throw CaptureError(where + "unsupported link type " + std::to_string(pcap_datalink(p)) + " (" +
                       dlt_name(pcap_datalink(p)) + ")");
  }
  if (limits.max_duration.count() > 0)
    impl->deadline = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(limits.max_duration);
  return CaptureReader(std::move(impl));
}

bool CaptureReader::next(CaptureItem& out) {
  Impl& s = *impl_;
  if (s.done) return false;
  for (;;) {
    if (s.live) {
      if (s.stop.load(std::memory_order_relaxed) ||
          (s.limits.max_packets > 0 && s.stats.frames >= s.limits.max_packets) ||
          (s.limits.max_duration.count() > 0 && std::chrono::steady_clock::now() >= s.deadline)) {
        s.finish();
        return false;
      }
    }
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    pcap_pkthdr direct_header;
    int rc;
    if (s.direct && s.direct->next(direct_header, data)) {
      h = &direct_header;
      rc = 1;
    } else {
      if (s.direct) {  // libpcap goes on from the first record not read directly
        const auto at = static_cast<off_t>(s.direct->position());
        s.direct.reset();
        if (fseeko(pcap_file(s.pcap), at, SEEK_SET) != 0) {
          s.stop_with("cannot seek to byte offset " + std::to_string(at) + " of " + display_name(s.name) + ": " +
                      std::strerror(errno));
          return false;
        }
      }
      rc = pcap_next_ex(s.pcap, &h, &data);
    }
    if (rc == 0) {  // live capture, nothing waiting (non-blocking): wait a little, then check the limits
      s.wait_for_packets();
      continue;
    }
    if (rc == PCAP_ERROR_BREAK) {
      if (s.source && s.source->cut())
        s.stop_with("compressed data ends early after frame " + std::to_string(s.stats.frames) + " (byte offset " +
                    std::to_string(s.stop_offset()) + "): the compressed file is cut short");
      s.finish();
      return false;
    }
    if (rc < 0) {
      s.read_error();
      return false;
    }
    CaptureStats& st = s.stats;
    const std::uint64_t frame = ++st.frames;
    ++st.link_types.front().frames;
    std::uint32_t interface = 0;
    if (s.pcapng) {
      PcapngTap::Entry e;
      if (s.source->tap().pop(e)) {
        interface = e.interface;
        s.good_offset = e.end_offset;
      }
    } else if (s.source) {
      s.good_offset += s.record_header + h->caplen;
    }

    // libpcap guarantees caplen bytes at `data`; a caplen larger than the wire length (a corrupt
    // record) is read as captured, with nothing missing.
    // pcapng time stamps are 64-bit counts at the interface's resolution, so libpcap can hand out
    // seconds far outside what nanoseconds since 1970 in 64 bits hold (… 2262): such a frame has no
    // time we could state, so it is skipped and counted, not given a wrapped-around time.
    // Times before 1970 (a huge unsigned pcapng count turned negative) are refused the same way, and
    // so is anything from 2116 (2^62 ns) on, so that analysis can subtract any two times safely.
    std::int64_t sec_ns = 0, frac_ns = 0, ts_ns = 0;
    if (__builtin_mul_overflow(static_cast<std::int64_t>(h->ts.tv_sec), std::int64_t{1000000000}, &sec_ns) ||
        __builtin_mul_overflow(static_cast<std::int64_t>(h->ts.tv_usec), s.ts_scale, &frac_ns) ||
        __builtin_add_overflow(sec_ns, frac_ns, &ts_ns) || ts_ns < 0 || ts_ns >= (std::int64_t{1} << 62)) {
      ++st.bad_time;
      ++st.other;
      continue;
    }
    if (!decode_plain_tcp(s.dlt, data, h->caplen, out, st) && !decode_and_count(s.dlt, data, h->caplen, h->len, out, st))
      continue;
    const WallTime ts{ts_ns};
    out.frame = frame;
    out.interface = interface;
    if (out.kind == CaptureItem::Kind::Tcp) {
      out.tcp.frame = frame;
      out.tcp.ts = ts;
      out.tcp.interface = interface;
    } else {
      out.icmp.frame = frame;
      out.icmp.ts = ts;
    }
    return true;
  }
}

void CaptureReader::request_stop() {
  impl_->stop.store(true, std::memory_order_relaxed);
  if (impl_->live && impl_->pcap) pcap_breakloop(impl_->pcap);
}

const CaptureStats& CaptureReader::stats() const { return impl_->stats; }
int CaptureReader::link_type() const { return impl_->dlt; }
std::string CaptureReader::link_type_name() const { return dlt_name(impl_->dlt); }
const std::string& CaptureReader::name() const { return impl_->name; }
std::string CaptureReader::format() const { return impl_->format; }

std::optional<std::string_view> capture_magic(std::string_view head) {
  const auto is = [&](std::string_view m) { return head.starts_with(m); };
  using namespace std::string_view_literals;
  // pcap in either byte order, µs or ns resolution, and Kuznetzov's modified format.
  if (is("\xd4\xc3\xb2\xa1"sv) || is("\xa1\xb2\xc3\xd4"sv) || is("\x4d\x3c\xb2\xa1"sv) || is("\xa1\xb2\x3c\x4d"sv) ||
      is("\xa1\xb2\xcd\x34"sv) || is("\x34\xcd\xb2\xa1"sv))
    return "pcap file header";
  if (is("\x0a\x0d\x0d\x0a"sv)) return "pcapng file header";
  if (is("\x1f\x8b"sv)) return "gzip header";
  if (is("\x28\xb5\x2f\xfd"sv)) return "zstd header";
  if (is("\xfd" "7zX"sv)) return "xz header";
  if (is("BZh"sv)) return "bzip2 header";
  return std::nullopt;
}

}  // namespace synscope::capture
