#pragma once
// Shared by the fuzz targets: the parsers that take a path get the fuzzer's bytes through an
// anonymous in-memory file (memfd) named by /proc/self/fd/N, so they run their real open/read code
// (libpcap's FILE*, gzopen) without touching the disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace synscope::fuzz {

class MemFile {
 public:
  MemFile(const std::uint8_t* data, std::size_t size) : fd_(memfd_create("synscope-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    if (::lseek(fd_, 0, SEEK_SET) != 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace synscope::fuzz

namespace synscope::fuzz {

// Bad input must end in one clear line (the CLI prints what() after "synscope: "): an empty or
// multi-line message is a finding too.
inline void check_one_line(const char* what) {
  const std::string m(what);
  if (m.empty() || m.find('\n') != std::string::npos) __builtin_trap();
}

}  // namespace synscope::fuzz
