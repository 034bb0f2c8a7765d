#include "live/tar_gz.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/format.h>

#include "core/error.h"

namespace synscope::live {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kMaxArchive = 256u << 20;  // refuse to inflate more than this

// Field offsets of the POSIX ustar header.
struct UstarField {
  std::size_t offset, size;
};
constexpr UstarField kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12}, kMtime{136, 12},
    kChksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kVersion{263, 2}, kPrefix{345, 155};

void put_octal(std::string& block, UstarField f, std::uint64_t v) {
  auto text = fmt::format("{:0{}o}", v, f.size - 1);
  std::memcpy(block.data() + f.offset, text.data(), f.size - 1);
}

unsigned checksum(const std::string& block) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i)
    sum += (i >= kChksum.offset && i < kChksum.offset + kChksum.size) ? ' ' : static_cast<unsigned char>(block[i]);
  return sum;
}

std::string field_text(const char* block, UstarField f) {
  std::string s(block + f.offset, f.size);
  return s.substr(0, s.find('\0'));
}

bool parse_octal(const char* block, UstarField f, std::uint64_t& out) {
  out = 0;
  bool digits = false;
  for (std::size_t i = 0; i < f.size; ++i) {
    char c = block[f.offset + i];
    if (c == '\0' || c == ' ') {
      if (digits) break;
      continue;
    }
    if (c < '0' || c > '7') return false;
    out = out * 8 + static_cast<unsigned>(c - '0');
    digits = true;
  }
  return digits;
}

class GzFile {
 public:
  GzFile(const std::string& path, const char* mode) : f_(gzopen(path.c_str(), mode)) {}
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  gzFile get() const { return f_; }
  int close() {
    int rc = gzclose(f_);
    f_ = nullptr;
    return rc;
  }

 private:
  gzFile f_;
};

}  // namespace

void write_tar_gz(const std::string& path, const ArchiveFiles& files) {
  std::string tar;
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  for (const auto& [name, data] : files) {
    if (name.size() >= kName.size) throw UsageError(fmt::format("archive member name too long: {}", name));
    std::string h(kBlock, '\0');
    std::memcpy(h.data() + kName.offset, name.data(), name.size());
    put_octal(h, kMode, 0644);
    put_octal(h, kUid, 0);
    put_octal(h, kGid, 0);
    put_octal(h, kSize, data.size());
    put_octal(h, kMtime, now);
    h[kType.offset] = '0';
    std::memcpy(h.data() + kMagic.offset, "ustar", 6);
    std::memcpy(h.data() + kVersion.offset, "00", 2);
    auto sum = fmt::format("{:06o}", checksum(h));
    std::memcpy(h.data() + kChksum.offset, sum.data(), 6);
    h[kChksum.offset + 6] = '\0';
    h[kChksum.offset + 7] = ' ';
    tar += h;
    tar += data;
    tar.append((kBlock - data.size() % kBlock) % kBlock, '\0');
  }
  tar.append(2 * kBlock, '\0');
  GzFile gz(path, "wb9");
  if (!gz.get()) throw UsageError(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  if (gzwrite(gz.get(), tar.data(), static_cast<unsigned>(tar.size())) != static_cast<int>(tar.size()) || gz.close() != Z_OK)
    throw UsageError(fmt::format("{}: write failed", path));
}

ArchiveFiles read_tar_gz(const std::string& path) {
  GzFile gz(path, "rb");
  if (!gz.get()) throw UsageError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string tar;
  char buf[65536];
  for (;;) {
    int n = gzread(gz.get(), buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(gz.get(), &err);
      throw UsageError(fmt::format("{}: not a readable gzip file ({})", path, msg));
    }
    if (n == 0) break;
    tar.append(buf, static_cast<std::size_t>(n));
    if (tar.size() > kMaxArchive) throw UsageError(fmt::format("{}: larger than {} MiB unpacked", path, kMaxArchive >> 20));
  }
  int err = Z_OK;
  gzerror(gz.get(), &err);
  if (err == Z_BUF_ERROR) throw UsageError(fmt::format("{}: truncated (the gzip stream ends early)", path));
  ArchiveFiles files;
  std::size_t pos = 0;
  bool ended = false;
  while (pos + kBlock <= tar.size()) {
    const char* h = tar.data() + pos;
    if (std::all_of(h, h + kBlock, [](char c) { return c == '\0'; })) {
      ended = true;
      break;
    }
    std::uint64_t sum = 0, size = 0;
    std::string block(h, kBlock);
    if (!parse_octal(h, kChksum, sum) || sum != checksum(block))
      throw UsageError(fmt::format("{}: not a tar archive, or damaged (bad header checksum at byte {})", path, pos));
    if (!parse_octal(h, kSize, size)) throw UsageError(fmt::format("{}: damaged tar header at byte {}", path, pos));
    std::string name = field_text(h, kName);
    if (field_text(h, kMagic) == "ustar" && !field_text(h, kPrefix).empty()) name = field_text(h, kPrefix) + "/" + name;
    pos += kBlock;
    if (size > tar.size() - pos) throw UsageError(fmt::format("{}: truncated inside member {}", path, name));
    const char type = h[kType.offset];
    if (type == '0' || type == '\0') files[name] = tar.substr(pos, size);
    pos += (size + kBlock - 1) / kBlock * kBlock;
  }
  if (!ended) throw UsageError(fmt::format("{}: truncated (no end-of-archive marker)", path));
  return files;
}

}  // namespace synscope::live
