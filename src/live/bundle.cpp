#include "live/bundle.h"

#include <sys/socket.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "live/tar_gz.h"

namespace synscope::live {
namespace {

using nlohmann::json;

// Reads one JSON object whose keys must be exactly `keys`; names the file and the object in errors.
class StrictObject {
 public:
  StrictObject(const json& j, std::string where, std::initializer_list<std::string_view> keys)
      : j_(j), where_(std::move(where)) {
    if (!j.is_object()) fail("expected an object");
    std::set<std::string_view> allowed(keys);
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!allowed.count(it.key())) fail(fmt::format("unexpected field '{}'", it.key()));
    for (auto k : keys)
      if (!j.contains(std::string(k))) fail(fmt::format("missing field '{}'", k));
  }
  [[noreturn]] void fail(const std::string& what) const { throw UsageError(where_ + ": " + what); }
  const json& at(std::string_view k) const { return j_.at(std::string(k)); }
  std::string str(std::string_view k) const {
    if (!at(k).is_string()) fail(fmt::format("field '{}' must be a string", k));
    return at(k).get<std::string>();
  }
  template <typename T>
  T number(std::string_view k) const {
    const auto& v = at(k);
    if (!v.is_number()) fail(fmt::format("field '{}' must be a number", k));
    if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) fail(fmt::format("field '{}' must be an integer", k));
      if constexpr (std::is_unsigned_v<T>) {
        if (v.is_number_integer() && !v.is_number_unsigned()) fail(fmt::format("field '{}' must not be negative", k));
      }
    }
    return v.get<T>();
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
};

Listener listener_from(const json& j, const std::string& where) {
  StrictObject o(j, where, {"family", "address", "port", "accept_queue", "backlog", "syn_recv", "drops", "inode", "uid", "owners"});
  Listener l;
  const auto fam = o.str("family");
  if (fam != "ipv4" && fam != "ipv6") o.fail("family must be ipv4 or ipv6");
  l.family = fam == "ipv6" ? AF_INET6 : AF_INET;
  l.address = o.str("address");
  const auto port = o.number<std::uint32_t>("port");
  if (port > 65535) o.fail("port out of range");
  l.port = static_cast<std::uint16_t>(port);
  l.accept_queue = o.number<std::uint32_t>("accept_queue");
  l.backlog = o.number<std::uint32_t>("backlog");
  l.syn_recv = o.number<std::uint32_t>("syn_recv");
  if (!o.at("drops").is_null()) l.drops = o.number<std::uint32_t>("drops");
  l.inode = o.number<std::uint64_t>("inode");
  l.uid = o.number<std::uint32_t>("uid");
  if (!o.at("owners").is_array()) o.fail("owners must be an array");
  std::size_t i = 0;
  for (const auto& w : o.at("owners")) {
    StrictObject ow(w, fmt::format("{} owner {}", where, ++i), {"pid", "comm"});
    l.owners.push_back({ow.number<int>("pid"), ow.str("comm")});
  }
  return l;
}

json parse_json(const ArchiveFiles& files, const std::string& bundle, const std::string& name) {
  auto it = files.find(kBundleDir + name);
  if (it == files.end()) throw UsageError(fmt::format("{}: not a synscope bundle: {} missing", bundle, name));
  auto j = json::parse(it->second, nullptr, false);
  if (j.is_discarded()) throw UsageError(fmt::format("{}: {} is not valid JSON (truncated?)", bundle, name));
  return j;
}

const std::string& member(const ArchiveFiles& files, const std::string& bundle, const std::string& name) {
  auto it = files.find(kBundleDir + name);
  if (it == files.end()) throw UsageError(fmt::format("{}: {} missing", bundle, name));
  return it->second;
}

}  // namespace

json listener_json(const Listener& l) {
  json o = json::array();
  for (const auto& w : l.owners) o.push_back({{"pid", w.pid}, {"comm", w.comm}});
  return {{"family", l.family == AF_INET6 ? "ipv6" : "ipv4"}, {"address", l.address}, {"port", l.port},
          {"accept_queue", l.accept_queue}, {"backlog", l.backlog}, {"syn_recv", l.syn_recv},
          {"drops", l.drops ? json(*l.drops) : json(nullptr)}, {"inode", l.inode}, {"uid", l.uid}, {"owners", o}};
}

void write_bundle(const std::string& path, const HostSnapshot& snap) {
  ArchiveFiles files;
  json times = json::array();
  for (const auto& s : snap.samples) times.push_back(s.at_seconds);
  json manifest = {{"schema", kBundleSchema}, {"hostname", snap.hostname}, {"netns", snap.netns},
                   {"collected_at", snap.collected_at}, {"release", snap.release}, {"interval_s", snap.interval_s},
                   {"sample_times", times}, {"unreadable", snap.unreadable}};
  files[std::string(kBundleDir) + "manifest.json"] = manifest.dump(2) + "\n";
  json sys = json::object();
  for (const auto& s : snap.sysctls) sys[s.name] = s.value ? json(*s.value) : json(s.note);
  files[std::string(kBundleDir) + "sysctls.json"] = sys.dump(2) + "\n";
  for (std::size_t i = 0; i < snap.samples.size(); ++i) {
    files[fmt::format("{}netstat.{}", kBundleDir, i)] = snap.samples[i].netstat_text;
    files[fmt::format("{}snmp.{}", kBundleDir, i)] = snap.samples[i].snmp_text;
  }
  json first = json::array(), last = json::array();
  for (const auto& l : snap.listeners_first) first.push_back(listener_json(l));
  for (const auto& l : snap.listeners) last.push_back(listener_json(l));
  files[std::string(kBundleDir) + "listeners.json"] = json{{"first", first}, {"last", last}, {"syn_sent", snap.syn_sent}}.dump(2) + "\n";
  write_tar_gz(path, files);
}

HostSnapshot read_bundle(const std::string& path) {
  const auto files = read_tar_gz(path);
  for (const auto& [name, data] : files)
    if (!name.starts_with(kBundleDir)) throw UsageError(fmt::format("{}: unexpected member {}", path, name));
  HostSnapshot snap;
  snap.origin = "bundle " + path;
  snap.owners = OwnerLookup::All;  // `synscope collect` looks up every listener's owners

  auto mj = parse_json(files, path, "manifest.json");
  StrictObject m(mj, path + ": manifest.json",
                 {"schema", "hostname", "netns", "collected_at", "release", "interval_s", "sample_times", "unreadable"});
  if (m.str("schema") != kBundleSchema)
    m.fail(fmt::format("schema '{}' is not {}", m.str("schema"), kBundleSchema));
  snap.hostname = m.str("hostname");
  snap.netns = m.str("netns");
  snap.collected_at = m.str("collected_at");
  snap.release = m.str("release");
  snap.interval_s = m.number<double>("interval_s");
  const auto& times = m.at("sample_times");
  if (!times.is_array() || times.empty() || times.size() > 2) m.fail("sample_times must list 1 or 2 times");
  if (!m.at("unreadable").is_array()) m.fail("unreadable must be an array");
  for (const auto& u : m.at("unreadable")) {
    if (!u.is_string()) m.fail("unreadable must list strings");
    snap.unreadable.push_back(u.get<std::string>());
  }

  auto sj = parse_json(files, path, "sysctls.json");
  if (!sj.is_object()) throw UsageError(path + ": sysctls.json: expected an object");
  for (auto it = sj.begin(); it != sj.end(); ++it) {
    SysctlValue v;
    v.name = it.key();
    if (it->is_number_integer()) v.value = it->get<std::int64_t>();
    else if (it->is_string()) v.note = it->get<std::string>();
    else throw UsageError(fmt::format("{}: sysctls.json: {} must be an integer or a note", path, it.key()));
    snap.sysctls.push_back(std::move(v));
  }

  for (std::size_t i = 0; i < times.size(); ++i) {
    if (!times[i].is_number()) m.fail("sample_times must be numbers");
    const auto ns = fmt::format("netstat.{}", i), sn = fmt::format("snmp.{}", i);
    try {
      auto s = parse_counter_sample(member(files, path, ns), member(files, path, sn), times[i].get<double>());
      snap.samples.push_back(std::move(s));
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("{}: sample {}: {}", path, i, e.what()));
    }
  }
  if (files.count(fmt::format("{}netstat.{}", kBundleDir, times.size())))
    throw UsageError(fmt::format("{}: more counter samples than manifest.json's sample_times lists", path));

  auto lj = parse_json(files, path, "listeners.json");
  StrictObject lo(lj, path + ": listeners.json", {"first", "last", "syn_sent"});
  snap.syn_sent = lo.number<std::uint32_t>("syn_sent");
  for (auto [key, target] : {std::pair{"first", &snap.listeners_first}, std::pair{"last", &snap.listeners}}) {
    if (!lo.at(key).is_array()) lo.fail(fmt::format("'{}' must be an array", key));
    std::size_t i = 0;
    for (const auto& l : lo.at(key))
      target->push_back(listener_from(l, fmt::format("{}: listeners.json {} listener {}", path, key, ++i)));
  }
  return snap;
}

}  // namespace synscope::live
