#pragma once
// User-facing errors: bad scenario files, unknown profiles or sysctls. The CLI prints what() on one
// line and exits with status 2 (see cli/main.cpp).
#include <stdexcept>
#include <string>

namespace synscope {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace synscope
