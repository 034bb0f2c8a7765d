#pragma once
#include <cstdint>
#include <string_view>

namespace synscope::capture {

// The name tcpdump (without -n) prints for a TCP port ("ssh" for 22), or empty if it prints the number.
std::string_view tcp_service_name(std::uint16_t port);

}  // namespace synscope::capture
