#pragma once
// A minimal ustar archive inside gzip (zlib), enough for support bundles: regular files only.
// The result opens with `tar -xzf`; reading accepts what we write (and plain tar) and reports
// damage (bad checksum, truncation) as UsageError with one line.
#include <map>
#include <string>

namespace synscope::live {

using ArchiveFiles = std::map<std::string, std::string>;  // path inside the archive → contents

void write_tar_gz(const std::string& path, const ArchiveFiles& files);
ArchiveFiles read_tar_gz(const std::string& path);

}  // namespace synscope::live
