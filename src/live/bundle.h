#pragma once
// Support bundles: `synscope collect -o FILE` saves a HostSnapshot as a tar.gz of plain files
// (manifest.json, sysctls.json, the raw /proc/net/netstat and /proc/net/snmp of each sample,
// listeners.json; layout in docs/doctor.md), and `synscope doctor --from FILE` reads it back.
// Anything missing, extra or damaged is a UsageError with one line naming the file and the field.
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "live/snapshot.h"

namespace synscope::live {

inline constexpr const char* kBundleSchema = "synscope.bundle/1";
inline constexpr const char* kBundleDir = "synscope-bundle/";

void write_bundle(const std::string& path, const HostSnapshot& snap);
// One listener as bundles and `doctor --json` store it (docs/doctor.md).
nlohmann::json listener_json(const Listener& l);
HostSnapshot read_bundle(const std::string& path);

}  // namespace synscope::live
