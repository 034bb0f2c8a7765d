#pragma once
// Golden files for text output: tests/golden/<rel>. Set SYNSCOPE_UPDATE_GOLDEN=1 to rewrite them
// after an intended change (and review the diff).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.h"

namespace synscope::testing {

inline void expect_golden(const std::string& golden_rel, const std::string& actual) {
  std::string path = source_path("tests/golden/" + golden_rel);
  if (std::getenv("SYNSCOPE_UPDATE_GOLDEN")) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run with SYNSCOPE_UPDATE_GOLDEN=1";
  std::string expected = read_file(path);
  if (expected == actual) return;
  auto e = split_lines(expected), a = split_lines(actual);
  for (std::size_t i = 0; i < std::max(e.size(), a.size()); ++i) {
    std::string el = i < e.size() ? e[i] : "<end>", al = i < a.size() ? a[i] : "<end>";
    if (el != al) {
      ADD_FAILURE() << golden_rel << " differs at line " << i + 1 << "\n expected: " << el << "\n actual:   " << al;
      return;
    }
  }
}

}  // namespace synscope::testing
