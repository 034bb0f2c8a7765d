#pragma once
// Simulated time. Everything in synscope counts time as nanoseconds since a scenario's epoch
// (a wall-clock instant, also in ns since 1970), so that captures carry realistic time stamps.
#include <chrono>
#include <cstdint>
#include <string>

namespace synscope {

using SimTime = std::chrono::nanoseconds;  // since the scenario epoch
using Duration = std::chrono::nanoseconds;

constexpr Duration nanos(std::int64_t v) { return Duration{v}; }
constexpr Duration micros(std::int64_t v) { return Duration{v * 1000}; }
constexpr Duration millis(std::int64_t v) { return Duration{v * 1000'000}; }
constexpr Duration seconds(std::int64_t v) { return Duration{v * 1000'000'000}; }

inline double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

// A wall-clock instant, ns since the Unix epoch (UTC).
struct WallTime {
  std::int64_t unix_ns = 0;
  std::int64_t whole_seconds() const { return unix_ns >= 0 ? unix_ns / 1000000000 : -((-unix_ns + 999999999) / 1000000000); }
  WallTime operator+(Duration d) const { return WallTime{unix_ns + d.count()}; }
};

// "HH:MM:SS.uuuuuu" (UTC), the way tcpdump prints its default time stamps.
std::string format_clock_time(WallTime t);
// "YYYY-MM-DD HH:MM:SS.uuuuuu" (UTC).
std::string format_date_time(WallTime t);
// Parses "YYYY-MM-DD HH:MM:SS[.frac]" or "YYYY-MM-DDTHH:MM:SS[.frac]" (UTC). Returns false if malformed.
bool parse_date_time(const std::string& text, WallTime& out);

}  // namespace synscope
