// README.md stays true: every ```console example is run, and each line it shows (except the "…"
// elision marks) must appear in the real output, in the same order.
#include <gtest/gtest.h>

#include "support/process.h"

namespace synscope {
namespace {

using testing::split_lines;

struct Example {
  std::string args;
  std::vector<std::string> lines;
};

std::vector<Example> console_examples(const std::string& readme) {
  std::vector<Example> out;
  auto lines = split_lines(readme);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != "```console") continue;
    Example ex;
    for (++i; i < lines.size() && lines[i] != "```"; ++i) {
      if (lines[i].rfind("$ synscope ", 0) == 0) ex.args = lines[i].substr(11);
      else if (lines[i] != "…") ex.lines.push_back(lines[i]);
    }
    out.push_back(ex);
  }
  return out;
}

TEST(Readme, EveryConsoleExampleMatchesRealOutput) {
  auto examples = console_examples(testing::read_file(testing::source_path("README.md")));
  ASSERT_GE(examples.size(), 5u);
  for (const auto& ex : examples) {
    SCOPED_TRACE("synscope " + ex.args);
    ASSERT_FALSE(ex.args.empty());
    testing::TempDir dir;
    auto r = testing::run_command(testing::synscope_binary() + " " + ex.args, dir);
    auto actual = split_lines(r.out + r.err);
    std::size_t pos = 0;
    for (const auto& want : ex.lines) {
      while (pos < actual.size() && actual[pos] != want) ++pos;
      ASSERT_LT(pos, actual.size()) << "README line not in the output (or out of order):\n" << want;
      ++pos;
    }
  }
}

}  // namespace
}  // namespace synscope
