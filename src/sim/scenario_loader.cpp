#include "sim/scenario_loader.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace synscope::sim {
namespace {

// Limits that keep every scenario finite and every interval representable (see opt_rate).
constexpr double kMinRate = 1e-6;        // one per ~11.6 days
constexpr double kMaxRate = 1e7;         // 100 ns apart
constexpr int kMaxEvents = 100'000'000;  // connections per client spec, SYNs per flood

// ---------------------------------------------------------------------------------------------
// Small text helpers

// Quotes a user string for a message, escaping anything that could break the one-line format.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, the commonest typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

// The closest candidate if it is close enough to be a plausible typo; first one wins ties.
template <class Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  const std::size_t limit = word.size() >= 6 ? 2 : 1;
  std::optional<std::string> best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d && d < word.size()) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
  if (auto s = closest(word, candidates)) return fmt::format(" (did you mean {}?)", quote(*s));
  return {};
}

std::string join_path(std::string_view base, std::string_view key) {
  if (base.empty()) return std::string(key);
  return fmt::format("{}.{}", base, key);
}

// Host, capture and file-stem names end up in file names and report columns.
bool is_valid_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// ---------------------------------------------------------------------------------------------
// Durations

enum class DurationProblem { None, Malformed, Negative, TooLarge };

DurationProblem parse_duration_impl(std::string_view s, Duration& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  // Integer arithmetic on the decimal digits keeps "2.09s" exactly 2'090'000'000 ns.
  __extension__ typedef __int128 i128;
  // Past 2^64 whole units the value is too large for any unit; below it, whole * unit_ns (at most
  // 2^68 * 3.6e12 for hours) stays far inside 128 bits. (The cap was 2^100, whose product with an
  // hour's nanoseconds overflowed: found by fuzz/scenario_fuzzer.cpp.)
  constexpr i128 kCap = static_cast<i128>(1) << 64;
  std::size_t i = 0;
  i128 whole = 0;
  int whole_digits = 0;
  bool huge = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (whole < kCap)
      whole = whole * 10 + (s[i] - '0');
    else
      huge = true;
    ++i;
    ++whole_digits;
  }
  i128 frac = 0, denom = 1;
  int frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (frac_digits < 18) {  // beyond 1e-18 of a unit nothing survives rounding to ns
        frac = frac * 10 + (s[i] - '0');
        denom *= 10;
      }
      ++i;
      ++frac_digits;
    }
  }
  if (whole_digits == 0 && frac_digits == 0) return DurationProblem::Malformed;
  while (i < s.size() && s[i] == ' ') ++i;
  const std::string_view unit = s.substr(i);
  std::int64_t unit_ns = 0;
  if (unit.empty() || unit == "s")
    unit_ns = 1'000'000'000;
  else if (unit == "ms")
    unit_ns = 1'000'000;
  else if (unit == "us" || unit == "\xc2\xb5s")  // also "µs"
    unit_ns = 1'000;
  else if (unit == "ns")
    unit_ns = 1;
  else if (unit == "m" || unit == "min")
    unit_ns = 60'000'000'000;
  else if (unit == "h")
    unit_ns = 3'600'000'000'000;
  else
    return DurationProblem::Malformed;
  if (negative && (whole != 0 || frac != 0)) return DurationProblem::Negative;
  if (huge) return DurationProblem::TooLarge;
  const i128 ns = whole * unit_ns + (frac * unit_ns + denom / 2) / denom;
  if (ns > std::numeric_limits<std::int64_t>::max()) return DurationProblem::TooLarge;
  out = Duration{static_cast<std::int64_t>(ns)};
  return DurationProblem::None;
}

std::string duration_problem_text(std::string_view text, DurationProblem p) {
  switch (p) {
    case DurationProblem::Negative: return fmt::format("{} is negative (durations must be >= 0)", quote(text));
    case DurationProblem::TooLarge: return fmt::format("{} is too large for a duration", quote(text));
    default:
      return fmt::format("{} is not a duration (use e.g. \"300us\", \"0.3ms\", \"1.5s\", \"2m\" or seconds)",
                         quote(text));
  }
}

// ---------------------------------------------------------------------------------------------
// Error context and typed accessors

int line_of(const toml::source_region& r) { return r.begin.line > 0 ? static_cast<int>(r.begin.line) : 1; }

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return quote(**n.as_string());
    case toml::node_type::integer: return std::to_string(**n.as_integer());
    case toml::node_type::floating_point: return fmt::format("{}", **n.as_floating_point());
    case toml::node_type::boolean: return **n.as_boolean() ? "true" : "false";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

class Ctx {
 public:
  explicit Ctx(std::string source) : source_(std::move(source)) {}
  [[noreturn]] void fail(int line, std::string_view path, std::string_view what) const {
    if (path.empty()) throw UsageError(fmt::format("{}:{}: {}", source_, line, what));
    throw UsageError(fmt::format("{}:{}: {}: {}", source_, line, path, what));
  }
  [[noreturn]] void fail(const toml::node& n, std::string_view path, std::string_view what) const {
    fail(line_of(n.source()), path, what);
  }
  [[noreturn]] void wrong_type(const toml::node& n, std::string_view path, std::string_view expected) const {
    fail(n, path, fmt::format("expected {}, got {}", expected, describe(n)));
  }

  std::string as_string(const toml::node& n, std::string_view path) const {
    if (const auto* s = n.as_string()) return s->get();
    wrong_type(n, path, "a string");
  }
  std::int64_t as_int(const toml::node& n, std::string_view path, std::int64_t lo, std::int64_t hi) const {
    const auto* v = n.as_integer();
    if (!v) wrong_type(n, path, "an integer");
    if (v->get() < lo || v->get() > hi) fail(n, path, fmt::format("{} is out of range ({}..{})", v->get(), lo, hi));
    return v->get();
  }
  std::uint16_t as_port(const toml::node& n, std::string_view path) const {
    return static_cast<std::uint16_t>(as_int(n, path, 1, 65535));
  }
  double as_positive(const toml::node& n, std::string_view path) const {
    double v = 0;
    if (const auto* i = n.as_integer())
      v = static_cast<double>(i->get());
    else if (const auto* f = n.as_floating_point())
      v = f->get();
    else
      wrong_type(n, path, "a number");
    if (!(v > 0) || !std::isfinite(v)) fail(n, path, fmt::format("must be a positive number, got {}", describe(n)));
    return v;
  }
  bool as_bool(const toml::node& n, std::string_view path) const {
    if (const auto* b = n.as_boolean()) return b->get();
    wrong_type(n, path, "true or false");
  }
  Duration as_duration(const toml::node& n, std::string_view path) const {
    if (const auto* s = n.as_string()) {
      Duration d{};
      const auto p = parse_duration_impl(s->get(), d);
      if (p != DurationProblem::None) fail(n, path, duration_problem_text(s->get(), p));
      return d;
    }
    // Bare TOML numbers are seconds.
    if (const auto* i = n.as_integer()) {
      if (i->get() < 0) fail(n, path, fmt::format("{} is negative (durations must be >= 0)", i->get()));
      if (i->get() > std::numeric_limits<std::int64_t>::max() / 1'000'000'000)
        fail(n, path, fmt::format("{} is too large for a duration", i->get()));
      return seconds(i->get());
    }
    if (const auto* f = n.as_floating_point()) {
      const double v = f->get();
      if (std::isnan(v)) fail(n, path, "nan is not a duration");
      if (v < 0) fail(n, path, fmt::format("{} is negative (durations must be >= 0)", v));
      if (v * 1e9 >= 9.2e18) fail(n, path, fmt::format("{} is too large for a duration", v));
      return Duration{std::llround(v * 1e9)};
    }
    wrong_type(n, path, "a duration such as \"1.5s\" or a number of seconds");
  }
  Ipv4Addr as_addr(const toml::node& n, std::string_view path) const {
    const std::string s = as_string(n, path);
    auto a = Ipv4Addr::parse(s);
    if (!a) fail(n, path, fmt::format("{} is not an IPv4 address", quote(s)));
    return *a;
  }
  Endpoint as_endpoint(const toml::node& n, std::string_view path) const {
    const std::string s = as_string(n, path);
    auto e = Endpoint::parse(s);
    if (!e) fail(n, path, fmt::format("{} is not an ADDR:PORT endpoint", quote(s)));
    if (e->port == 0) fail(n, path, fmt::format("{}: port 0 is out of range (1..65535)", quote(s)));
    return *e;
  }
  std::string as_name(const toml::node& n, std::string_view path) const {
    std::string s = as_string(n, path);
    if (!is_valid_name(s))
      fail(n, path, fmt::format("{} is not a valid name (use letters, digits, '-', '_', '.')", quote(s)));
    return s;
  }

 private:
  std::string source_;
};

// One TOML table with the keys it may hold. Unknown keys are rejected on construction, before any
// value is read, so a misspelt key is reported as itself rather than as "missing <real key>".
class Section {
 public:
  Section(const Ctx& ctx, const toml::table& table, std::string path, std::initializer_list<std::string_view> keys)
      : ctx_(ctx), table_(table), path_(std::move(path)), keys_(keys) {
    const toml::key* bad = nullptr;
    for (auto&& [k, v] : table_) {
      if (std::find(keys_.begin(), keys_.end(), k.str()) != keys_.end()) continue;
      // Report the first offender in file order; toml::table iterates in key order.
      if (!bad || k.source().begin.line < bad->source().begin.line) bad = &k;
    }
    if (bad) unknown_key(*bad);
  }

  const Ctx& ctx() const { return ctx_; }
  const std::string& path() const { return path_; }
  int line() const { return line_of(table_.source()); }
  std::string key_path(std::string_view key) const { return join_path(path_, key); }

  const toml::node* get(std::string_view key) const {
    assert(std::find(keys_.begin(), keys_.end(), key) != keys_.end());
    return table_.get(key);
  }
  const toml::node& need(std::string_view key) const {
    const toml::node* n = get(key);
    if (!n) ctx_.fail(line(), key_path(key), "missing required key");
    return *n;
  }
  [[noreturn]] void fail_at(std::string_view key, std::string_view what) const {
    const toml::node* n = get(key);
    ctx_.fail(n ? line_of(n->source()) : line(), key_path(key), what);
  }
  [[noreturn]] void fail_here(std::string_view what) const { ctx_.fail(line(), path_, what); }

  std::optional<std::string> opt_string(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_string(*n, key_path(key));
    return std::nullopt;
  }
  std::string req_string(std::string_view key) const { return ctx_.as_string(need(key), key_path(key)); }
  std::string req_name(std::string_view key) const { return ctx_.as_name(need(key), key_path(key)); }
  std::optional<std::int64_t> opt_int(std::string_view key, std::int64_t lo, std::int64_t hi) const {
    if (const auto* n = get(key)) return ctx_.as_int(*n, key_path(key), lo, hi);
    return std::nullopt;
  }
  std::int64_t req_int(std::string_view key, std::int64_t lo, std::int64_t hi) const {
    return ctx_.as_int(need(key), key_path(key), lo, hi);
  }
  std::optional<std::uint16_t> opt_port(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_port(*n, key_path(key));
    return std::nullopt;
  }
  std::uint16_t req_port(std::string_view key) const { return ctx_.as_port(need(key), key_path(key)); }
  std::optional<double> opt_positive(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_positive(*n, key_path(key));
    return std::nullopt;
  }
  // An event rate per second. Bounded so that 1/rate is a representable interval and a scenario
  // cannot ask for more events than a simulation can finish.
  std::optional<double> opt_rate(std::string_view key) const {
    auto r = opt_positive(key);
    if (r && (*r < kMinRate || *r > kMaxRate))
      fail_at(key, fmt::format("{} per second is outside {} … {}", *r, kMinRate, kMaxRate));
    return r;
  }
  std::optional<bool> opt_bool(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_bool(*n, key_path(key));
    return std::nullopt;
  }
  std::optional<Duration> opt_duration(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_duration(*n, key_path(key));
    return std::nullopt;
  }
  Duration req_duration(std::string_view key) const { return ctx_.as_duration(need(key), key_path(key)); }
  std::optional<Ipv4Addr> opt_addr(std::string_view key) const {
    if (const auto* n = get(key)) return ctx_.as_addr(*n, key_path(key));
    return std::nullopt;
  }
  Ipv4Addr req_addr(std::string_view key) const { return ctx_.as_addr(need(key), key_path(key)); }
  Endpoint req_endpoint(std::string_view key) const { return ctx_.as_endpoint(need(key), key_path(key)); }

  // Each table of an array of tables (`[[key]]`), with its path "key[i]".
  template <class F>
  void each_table(std::string_view key, F&& f) const {
    const toml::node* n = get(key);
    if (!n) return;
    const std::string p = key_path(key);
    const toml::array* arr = n->as_array();
    if (!arr) ctx_.wrong_type(*n, p, fmt::format("an array of tables ([[{}]])", p));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const std::string ep = fmt::format("{}[{}]", p, i);
      const toml::table* t = e.as_table();
      if (!t) ctx_.wrong_type(e, ep, "a table");
      f(*t, ep);
    }
  }

 private:
  [[noreturn]] void unknown_key(const toml::key& k) const {
    std::string what = "unknown key";
    if (auto s = closest(k.str(), keys_)) {
      what += fmt::format(" (did you mean {}?)", quote(*s));
    } else if (path_.empty() && is_scenario_key(k.str())) {
      what += fmt::format(" (did you mean to put {} under [scenario]?)", quote(k.str()));
    } else {
      std::string list;
      for (auto key : keys_) list += (list.empty() ? "" : ", ") + std::string(key);
      what += fmt::format(" (expected one of: {})", list);
    }
    ctx_.fail(line_of(k.source()), key_path(k.str()), what);
  }
  static bool is_scenario_key(std::string_view k) {
    for (auto s : {"name", "description", "seed", "start", "duration", "kernel", "latency", "notes"})
      if (k == s) return true;
    return false;
  }

  const Ctx& ctx_;
  const toml::table& table_;
  std::string path_;
  std::vector<std::string_view> keys_;
};

// ---------------------------------------------------------------------------------------------
// Sections

std::int64_t unix_ns_from_toml(const toml::date_time& dt) {
  std::tm tm{};
  tm.tm_year = dt.date.year - 1900;
  tm.tm_mon = dt.date.month - 1;
  tm.tm_mday = dt.date.day;
  tm.tm_hour = dt.time.hour;
  tm.tm_min = dt.time.minute;
  tm.tm_sec = dt.time.second;
  std::int64_t secs = static_cast<std::int64_t>(timegm(&tm));
  if (dt.offset) secs -= static_cast<std::int64_t>(dt.offset->minutes) * 60;  // local time + offset = UTC + offset
  return secs * 1'000'000'000 + dt.time.nanosecond;
}

struct HostIndex {
  std::unordered_map<std::string, std::size_t> by_name;
  std::vector<std::string> names;  // declaration order, for suggestions
};

class Loader {
 public:
  Loader(const Ctx& ctx, Scenario& sc) : ctx_(ctx), sc_(sc) {}

  void load(const toml::table& root_table) {
    Section root(ctx_, root_table, "",
                 {"scenario", "host", "link", "nat", "server", "client", "connect_close", "proxy", "flood", "capture",
                  "sweep", "variant", "lab"});
    const toml::node* scen = root.get("scenario");
    if (!scen) ctx_.fail(1, "scenario", "missing required table [scenario]");
    if (!scen->as_table()) ctx_.wrong_type(*scen, "scenario", "a table ([scenario])");
    load_scenario(Section(ctx_, *scen->as_table(), "scenario",
                          {"name", "description", "seed", "start", "duration", "kernel", "latency", "notes"}));
    root.each_table("host", [&](const toml::table& t, const std::string& p) { load_host(t, p); });
    root.each_table("link", [&](const toml::table& t, const std::string& p) { load_link(t, p); });
    root.each_table("nat", [&](const toml::table& t, const std::string& p) { load_nat(t, p); });
    root.each_table("server", [&](const toml::table& t, const std::string& p) { load_server(t, p); });
    root.each_table("client", [&](const toml::table& t, const std::string& p) { load_client(t, p); });
    root.each_table("connect_close", [&](const toml::table& t, const std::string& p) { load_connect_close(t, p); });
    root.each_table("proxy", [&](const toml::table& t, const std::string& p) { load_proxy(t, p); });
    root.each_table("flood", [&](const toml::table& t, const std::string& p) { load_flood(t, p); });
    root.each_table("capture", [&](const toml::table& t, const std::string& p) { load_capture(t, p); });
    root.each_table("variant", [&](const toml::table& t, const std::string& p) { load_variant(t, p); });
    if (const toml::node* sw = root.get("sweep")) {
      if (!sw->as_table()) ctx_.wrong_type(*sw, "sweep", "a table ([sweep])");
      load_sweep(Section(ctx_, *sw->as_table(), "sweep", {"trials", "clients"}));
    }
    if (const toml::node* lab = root.get("lab")) {
      if (!lab->as_table()) ctx_.wrong_type(*lab, "lab", "a table ([lab])");
      load_lab(Section(ctx_, *lab->as_table(), "lab", {"duration", "without"}));
    }
  }

 private:
  void load_scenario(const Section& s) {
    sc_.name = s.req_string("name");
    if (sc_.name.empty()) s.fail_at("name", "must not be empty");
    sc_.description = s.opt_string("description").value_or("");
    if (auto seed = s.opt_int("seed", 0, std::numeric_limits<std::int64_t>::max()))
      sc_.seed = static_cast<std::uint64_t>(*seed);
    if (const toml::node* n = s.get("start")) {
      const std::string p = s.key_path("start");
      if (const auto* dt = n->as_date_time()) {
        sc_.start.unix_ns = unix_ns_from_toml(dt->get());
      } else if (const auto* str = n->as_string()) {
        if (!parse_date_time(str->get(), sc_.start))
          ctx_.fail(*n, p, fmt::format("{} is not a UTC date-time (use \"YYYY-MM-DD HH:MM:SS[.frac]\")", quote(str->get())));
      } else {
        ctx_.wrong_type(*n, p, "a date-time such as \"2019-06-03 22:45:10\"");
      }
    }
    if (auto d = s.opt_duration("duration")) sc_.duration = *d;
    if (auto k = s.opt_string("kernel")) {
      if (k->empty()) s.fail_at("kernel", "must not be empty");
      sc_.default_kernel = *k;
    }
    if (auto l = s.opt_duration("latency")) sc_.default_latency = *l;
    if (const toml::node* n = s.get("notes")) {
      const std::string p = s.key_path("notes");
      if (n->as_string()) {
        sc_.notes.push_back(ctx_.as_string(*n, p));
      } else if (const auto* arr = n->as_array()) {
        for (std::size_t i = 0; i < arr->size(); ++i)
          sc_.notes.push_back(ctx_.as_string(*arr->get(i), fmt::format("{}[{}]", p, i)));
      } else {
        ctx_.wrong_type(*n, p, "an array of strings");
      }
    }
  }

  void load_host(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path,
              {"name", "addr", "kernel", "sysctl", "ts_clock", "hz", "mss", "syn_window", "synack_window", "wscale",
               "window"});
    HostSpec h;
    h.line_no = s.line();
    h.name = s.req_name("name");
    if (auto it = hosts_.by_name.find(h.name); it != hosts_.by_name.end())
      s.fail_at("name", fmt::format("duplicate host name {} (first declared on line {})", quote(h.name),
                                    sc_.hosts[it->second].line_no));
    h.addr = s.req_addr("addr");
    for (const auto& other : sc_.hosts)
      if (other.addr == h.addr)
        s.fail_at("addr", fmt::format("address {} is already used by host {} (line {})", h.addr.str(),
                                      quote(other.name), other.line_no));
    if (auto k = s.opt_string("kernel")) {
      if (k->empty()) s.fail_at("kernel", "must not be empty");
      h.kernel = *k;
    }
    if (const toml::node* n = s.get("sysctl")) {
      const toml::table* st = n->as_table();
      if (!st) ctx_.wrong_type(*n, s.key_path("sysctl"), "a table such as { tcp_tw_recycle = 1 }");
      load_sysctls(*st, s.key_path("sysctl"), "", h.sysctls);
    }
    if (auto v = s.opt_int("ts_clock", 0, 0xffffffffLL)) h.ts_clock_at_start = static_cast<std::uint32_t>(*v);
    if (auto v = s.opt_int("hz", 1, 1'000'000)) h.hz = static_cast<int>(*v);
    if (auto v = s.opt_int("mss", 1, 65535)) h.mss = static_cast<std::uint16_t>(*v);
    if (auto v = s.opt_int("syn_window", 0, 65535)) h.syn_window = static_cast<std::uint16_t>(*v);
    if (auto v = s.opt_int("synack_window", 0, 65535)) h.synack_window = static_cast<std::uint16_t>(*v);
    if (auto v = s.opt_int("wscale", 0, 14)) h.wscale = static_cast<std::uint8_t>(*v);  // RFC 7323 maximum
    if (auto v = s.opt_int("window", 0, 65535)) h.window = static_cast<std::uint16_t>(*v);
    hosts_.by_name.emplace(h.name, sc_.hosts.size());
    hosts_.names.push_back(h.name);
    sc_.hosts.push_back(std::move(h));
  }

  // Accepts short names (tcp_tw_recycle) and full dotted ones, which TOML turns into nested tables
  // unless quoted; both are stored as the short name, as HostSpec::sysctls documents.
  void load_sysctls(const toml::table& t, const std::string& path, const std::string& prefix,
                    std::map<std::string, std::int64_t>& out) const {
    for (auto&& [k, v] : t) {
      const std::string dotted = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      const std::string p = join_path(path, k.str());
      if (const toml::table* sub = v.as_table()) {
        load_sysctls(*sub, p, dotted, out);
        continue;
      }
      std::string name = dotted;
      for (std::string_view pre : {"net.ipv4.", "net.core."})
        if (name.starts_with(pre)) name.erase(0, pre.size());
      const std::int64_t value =
          ctx_.as_int(v, p, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
      if (!out.emplace(name, value).second) ctx_.fail(v, p, fmt::format("sysctl {} is set twice", quote(name)));
    }
  }

  // A host reference: must name a declared [[host]].
  std::string host_ref(const Section& s, std::string_view key) const {
    const std::string name = s.req_string(key);
    if (!hosts_.by_name.count(name))
      s.fail_at(key, fmt::format("no host named {}{}", quote(name), did_you_mean(name, hosts_.names)));
    return name;
  }

  void load_link(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"a", "b", "latency"});
    LinkSpec l;
    l.a = host_ref(s, "a");
    l.b = host_ref(s, "b");
    if (l.a == l.b) s.fail_at("b", fmt::format("a link needs two different hosts, got {} twice", quote(l.a)));
    l.latency = s.opt_duration("latency").value_or(sc_.default_latency);
    const auto key = std::minmax(l.a, l.b);
    if (!links_seen_.emplace(key.first, key.second).second)
      s.fail_here(fmt::format("duplicate link between {} and {}", quote(l.a), quote(l.b)));
    sc_.links.push_back(std::move(l));
  }

  void load_nat(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"host", "dnat", "snat"});
    NatSpec n;
    n.host = host_ref(s, "host");
    for (const auto& other : sc_.nats)
      if (other.host == n.host) s.fail_at("host", fmt::format("host {} already has a [[nat]] table", quote(n.host)));
    s.each_table("dnat", [&](const toml::table& rt, const std::string& rp) {
      Section r(ctx_, rt, rp, {"daddr", "dport", "to"});
      DnatRule rule;
      rule.match_daddr = r.opt_addr("daddr");
      rule.match_dport = r.req_port("dport");
      // iptables allows --to-destination ADDR without a port: the port is then kept (stored as 0).
      const toml::node& to = r.need("to");
      const std::string text = ctx_.as_string(to, r.key_path("to"));
      if (text.find(':') == std::string::npos) {
        rule.to = Endpoint{ctx_.as_addr(to, r.key_path("to")), 0};
      } else {
        rule.to = ctx_.as_endpoint(to, r.key_path("to"));
      }
      n.dnat.push_back(rule);
    });
    s.each_table("snat", [&](const toml::table& rt, const std::string& rp) {
      Section r(ctx_, rt, rp, {"daddr", "dport", "to"});
      SnatRule rule;
      rule.match_daddr = r.opt_addr("daddr");
      rule.match_dport = r.opt_port("dport").value_or(0);
      rule.to = r.req_addr("to");
      n.snat.push_back(rule);
    });
    sc_.nats.push_back(std::move(n));
  }

  void load_server(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path,
              {"host", "port", "backlog", "accept", "accept_rate", "close_after", "banner", "banner_delay",
               "eof_close_delay"});
    ServerAppSpec a;
    a.host = host_ref(s, "host");
    a.port = s.req_port("port");
    for (const auto& other : sc_.servers)
      if (other.host == a.host && other.port == a.port)
        s.fail_at("port", fmt::format("host {} already has a server on port {}", quote(a.host), a.port));
    if (auto b = s.opt_int("backlog", 0, std::numeric_limits<int>::max())) a.backlog = static_cast<int>(*b);
    if (auto mode = s.opt_string("accept")) {
      static const std::vector<std::string> kModes = {"immediate", "stalled", "rate"};
      if (*mode == "immediate")
        a.accept = AcceptMode::Immediate;
      else if (*mode == "stalled")
        a.accept = AcceptMode::Stalled;
      else if (*mode == "rate")
        a.accept = AcceptMode::Rate;
      else
        s.fail_at("accept", fmt::format("{} is not one of \"immediate\", \"stalled\", \"rate\"{}", quote(*mode),
                                        did_you_mean(*mode, kModes)));
    }
    if (auto r = s.opt_rate("accept_rate")) {
      if (a.accept != AcceptMode::Rate) s.fail_at("accept_rate", "only allowed with accept = \"rate\"");
      a.accept_rate = *r;
    } else if (a.accept == AcceptMode::Rate) {
      s.fail_here("accept = \"rate\" needs accept_rate (accepts per second)");
    }
    a.close_after = s.opt_duration("close_after");
    a.banner = s.opt_string("banner").value_or("");
    a.banner_delay = s.opt_duration("banner_delay").value_or(Duration{});
    a.eof_close_delay = s.opt_duration("eof_close_delay").value_or(Duration{});
    sc_.servers.push_back(std::move(a));
  }

  void load_client(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path,
              {"name", "host", "connect", "at", "rate", "count", "start", "close_after", "syn_retries", "sport"});
    ClientAppSpec c;
    c.host = host_ref(s, "host");
    if (auto n = s.opt_string("name")) {
      if (n->empty()) s.fail_at("name", "must not be empty");
      c.name = *n;
    } else {
      c.name = c.host;
    }
    if (!client_names_.insert(c.name).second)
      s.fail_at(s.get("name") ? "name" : "host",
                fmt::format("duplicate client name {} (set a distinct name = \"...\")", quote(c.name)));
    c.connect_to = s.req_endpoint("connect");
    const toml::node* at = s.get("at");
    const auto rate = s.opt_rate("rate");
    const auto count = s.opt_int("count", 1, kMaxEvents);
    const auto start = s.opt_duration("start");
    if (at) {
      const std::string p = s.key_path("at");
      if (const auto* arr = at->as_array()) {
        if (arr->empty()) ctx_.fail(*at, p, "needs at least one time");
        for (std::size_t i = 0; i < arr->size(); ++i)
          c.at.push_back(ctx_.as_duration(*arr->get(i), fmt::format("{}[{}]", p, i)));
      } else {
        c.at.push_back(ctx_.as_duration(*at, p));
      }
      if (rate) s.fail_at("rate", "cannot be combined with \"at\"");
      if (count) s.fail_at("count", "cannot be combined with \"at\"");
      if (start) s.fail_at("start", "only allowed with rate/count (\"at\" gives explicit times)");
    } else if (rate || count) {
      if (!rate) s.fail_here("\"count\" needs \"rate\" (connections per second)");
      if (!count) s.fail_here("\"rate\" needs \"count\" (how many connections)");
      c.rate = *rate;
      c.count = static_cast<int>(*count);
      c.start = start.value_or(Duration{});
    } else {
      s.fail_here("needs either \"at\" or both \"rate\" and \"count\"");
    }
    c.close_after = s.opt_duration("close_after");
    // setsockopt(TCP_SYNCNT) accepts 1..MAX_TCP_SYNCNT (127).
    if (auto r = s.opt_int("syn_retries", 1, 127)) c.syn_retries = static_cast<int>(*r);
    c.sport = s.opt_port("sport");
    sc_.clients.push_back(std::move(c));
  }

  void load_connect_close(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"host", "target", "at", "close_after", "sport"});
    ConnectCloseSpec c;
    c.host = host_ref(s, "host");
    c.target = s.req_endpoint("target");
    c.at = s.opt_duration("at").value_or(Duration{});
    c.close_after = s.opt_duration("close_after").value_or(Duration{});
    c.sport = s.opt_port("sport");
    sc_.connect_close.push_back(std::move(c));
  }

  void load_lab(const Section& s) {
    LabSpec lab;
    lab.duration = s.opt_duration("duration");
    if (const toml::node* n = s.get("without")) {
      const std::string p = s.key_path("without");
      const toml::array* arr = n->as_array();
      if (!arr) ctx_.wrong_type(*n, p, "an array of sysctl names");
      for (std::size_t i = 0; i < arr->size(); ++i)
        lab.without.push_back(ctx_.as_string(*arr->get(i), fmt::format("{}[{}]", p, i)));
    }
    sc_.lab = std::move(lab);
  }

  // [sweep] is read after every [[client]], so `clients` can be checked against their names.
  void load_sweep(const Section& s) {
    SweepSpec sw;
    sw.trials = static_cast<int>(s.req_int("trials", 1, std::numeric_limits<int>::max()));
    if (const toml::node* n = s.get("clients")) {
      const std::string p = s.key_path("clients");
      const toml::array* arr = n->as_array();
      if (!arr) ctx_.wrong_type(*n, p, "an array of client names");
      if (arr->empty()) ctx_.fail(*n, p, "needs at least one client name (omit the key to count all clients)");
      std::vector<std::string> known;  // declaration order, for suggestions
      for (const auto& c : sc_.clients) known.push_back(c.name);
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        const std::string ep = fmt::format("{}[{}]", p, i);
        std::string name = ctx_.as_string(e, ep);
        if (std::find(known.begin(), known.end(), name) == known.end())
          ctx_.fail(e, ep, fmt::format("no client named {}{}", quote(name), did_you_mean(name, known)));
        if (std::find(sw.clients.begin(), sw.clients.end(), name) != sw.clients.end())
          ctx_.fail(e, ep, fmt::format("client {} is listed twice", quote(name)));
        sw.clients.push_back(std::move(name));
      }
    }
    sc_.sweep = std::move(sw);
  }

  void load_proxy(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"host", "listen", "upstream", "backlog"});
    ProxySpec p;
    p.host = host_ref(s, "host");
    p.listen_port = s.req_port("listen");
    for (const auto& srv : sc_.servers)
      if (srv.host == p.host && srv.port == p.listen_port)
        s.fail_at("listen", fmt::format("host {} already has a server on port {}", quote(p.host), p.listen_port));
    p.upstream = s.req_endpoint("upstream");
    if (auto b = s.opt_int("backlog", 0, std::numeric_limits<int>::max())) p.backlog = static_cast<int>(*b);
    sc_.proxies.push_back(std::move(p));
  }

  void load_flood(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"source", "target", "rate", "start", "duration", "timestamps"});
    FloodSpec f;
    {
      const toml::node& n = s.need("source");
      const std::string p = s.key_path("source");
      const std::string text = ctx_.as_string(n, p);
      const auto slash = text.find('/');
      const auto addr = Ipv4Addr::parse(std::string_view(text).substr(0, slash));
      int prefix = 32;
      bool ok = addr.has_value();
      if (ok && slash != std::string::npos) {
        const std::string bits = text.substr(slash + 1);
        ok = !bits.empty() && bits.size() <= 2 && std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (ok) prefix = std::stoi(bits);
        ok = ok && prefix <= 32;
      }
      if (!ok) ctx_.fail(n, p, fmt::format("{} is not an IPv4 prefix such as \"198.51.100.0/24\"", quote(text)));
      const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
      if ((addr->value & ~mask) != 0)
        ctx_.fail(n, p, fmt::format("{} has host bits set (network is {}/{})", quote(text),
                                    Ipv4Addr{addr->value & mask}.str(), prefix));
      f.source_net = *addr;
      f.source_prefix = prefix;
    }
    f.target = s.req_endpoint("target");
    if (auto r = s.opt_rate("rate")) f.rate = *r;
    f.start = s.opt_duration("start").value_or(Duration{});
    f.duration = s.req_duration("duration");
    if (f.rate * to_seconds(f.duration) > kMaxEvents)
      s.fail_at("duration", fmt::format("{} SYNs/s for {} s is more than {} SYNs", f.rate, to_seconds(f.duration),
                                        kMaxEvents));
    if (auto ts = s.opt_bool("timestamps")) f.timestamps = *ts;
    sc_.floods.push_back(f);
  }

  void load_capture(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"host", "name"});
    CaptureSpec c;
    c.host = host_ref(s, "host");
    c.name = s.get("name") ? s.req_name("name") : c.host;
    if (!capture_names_.insert(c.name).second)
      s.fail_at(s.get("name") ? "name" : "host",
                fmt::format("duplicate capture name {} (two captures would write the same file)", quote(c.name)));
    sc_.captures.push_back(std::move(c));
  }

  // A what-if run: another kernel and/or sysctl overrides, "NAME=VALUE" (every host) or
  // "HOST:NAME=VALUE". Names are the model's to check; the shape, value and host are checked here.
  void load_variant(const toml::table& t, const std::string& path) {
    Section s(ctx_, t, path, {"name", "kernel", "sysctl"});
    VariantSpec v;
    v.name = s.req_string("name");
    if (v.name.empty()) s.fail_at("name", "must not be empty");
    for (const auto& other : sc_.variants)
      if (other.name == v.name) s.fail_at("name", fmt::format("duplicate variant name {}", quote(v.name)));
    if (auto k = s.opt_string("kernel")) {
      if (k->empty()) s.fail_at("kernel", "must not be empty");
      v.kernel = *k;
    }
    if (const toml::node* n = s.get("sysctl")) {
      const std::string p = s.key_path("sysctl");
      const toml::array* arr = n->as_array();
      if (!arr) ctx_.wrong_type(*n, p, "an array of \"NAME=VALUE\" or \"HOST:NAME=VALUE\" strings");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        const std::string ep = fmt::format("{}[{}]", p, i);
        std::string text = ctx_.as_string(e, ep);
        const auto eq = text.find('=');
        const auto colon = text.find(':');
        const bool has_host = colon != std::string::npos && colon < eq;
        const std::size_t name_begin = has_host ? colon + 1 : 0;
        const std::string host = has_host ? text.substr(0, colon) : "";
        const std::string name = eq == std::string::npos ? "" : text.substr(name_begin, eq - name_begin);
        const std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
        std::int64_t parsed = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
        if (eq == std::string::npos || name.empty() || (has_host && host.empty()) || value.empty() ||
            ec != std::errc{} || end != value.data() + value.size())
          ctx_.fail(e, ep, fmt::format("{} is not NAME=VALUE or HOST:NAME=VALUE with an integer value", quote(text)));
        if (has_host && !hosts_.by_name.count(host))
          ctx_.fail(e, ep, fmt::format("no host named {}{}", quote(host), did_you_mean(host, hosts_.names)));
        v.sysctls.push_back(std::move(text));
      }
    }
    if (!v.kernel && v.sysctls.empty()) s.fail_here("changes nothing (set kernel and/or sysctl)");
    sc_.variants.push_back(std::move(v));
  }

  const Ctx& ctx_;
  Scenario& sc_;
  HostIndex hosts_;
  std::set<std::pair<std::string, std::string>> links_seen_;
  std::set<std::string> client_names_;
  std::set<std::string> capture_names_;
};

std::string one_line(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

}  // namespace

std::optional<Duration> try_parse_duration(std::string_view text) {
  Duration d{};
  if (parse_duration_impl(text, d) != DurationProblem::None) return std::nullopt;
  return d;
}

Duration parse_duration(std::string_view text) {
  Duration d{};
  const auto p = parse_duration_impl(text, d);
  if (p != DurationProblem::None) throw UsageError(duration_problem_text(text, p));
  return d;
}

Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name) {
  const Ctx ctx(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    ctx.fail(line_of(e.source()), "", fmt::format("syntax error: {}", one_line(e.description())));
  }
  Scenario sc;
  sc.source = source_name;
  Loader(ctx, sc).load(root);
  return sc;
}

Scenario load_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("{}: cannot read scenario file: {}", path, std::strerror(errno)));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw UsageError(fmt::format("{}: cannot read scenario file: {}", path, std::strerror(errno)));
  return load_scenario_text(buf.str(), path);
}

}  // namespace synscope::sim
