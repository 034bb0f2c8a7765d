#include "core/time.h"

#include <cstdio>
#include <ctime>

namespace synscope {
namespace {
void split(WallTime t, std::tm& tm, long& micros_part) {
  std::int64_t secs = t.whole_seconds();
  micros_part = static_cast<long>((t.unix_ns - secs * 1000000000) / 1000);
  std::time_t tt = static_cast<std::time_t>(secs);
  gmtime_r(&tt, &tm);
}
}  // namespace

std::string format_clock_time(WallTime t) {
  std::tm tm{};
  long us = 0;
  split(t, tm, us);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec, us);
  return buf;
}

std::string format_date_time(WallTime t) {
  std::tm tm{};
  long us = 0;
  split(t, tm, us);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
  return buf;
}

bool parse_date_time(const std::string& text, WallTime& out) {
  int y, mo, d, h, mi, s;
  char sep;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s, &consumed) != 7)
    return false;
  if (sep != ' ' && sep != 'T') return false;
  // Years 1970 … 2200 only: captures and scenarios live there, and nanoseconds since 1970 in 64 bits
  // end in 2262 (an earlier year or "-5" for one would overflow them). sscanf's %d takes a sign.
  if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      s < 0 || s > 60)
    return false;
  std::int64_t frac_ns = 0;
  const char* rest = text.c_str() + consumed;
  if (*rest == '.') {
    ++rest;
    std::int64_t scale = 100000000;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) frac_ns += (*rest - '0') * scale;
      scale /= 10;
      ++digits;
      ++rest;
    }
    if (digits == 0) return false;
  }
  if (*rest == 'Z') ++rest;
  if (*rest != '\0') return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t secs = timegm(&tm);
  out.unix_ns = static_cast<std::int64_t>(secs) * 1000000000 + frac_ns;
  return true;
}

}  // namespace synscope
