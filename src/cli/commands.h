#pragma once
// Subcommands that live in their own files. Each adds itself to the app and returns how to run it
// once parsing chose it; main() dispatches. Exit codes: 0 ok, 2 bad input (one-line reason).
#include <CLI/CLI.hpp>
#include <functional>

namespace synscope::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_analyze_command(CLI::App& app);  // analyze_command.cpp
Command add_replay_command(CLI::App& app);   // replay_command.cpp
Command add_lab_command(CLI::App& app);      // lab_command.cpp
Command add_doctor_command(CLI::App& app);   // doctor_command.cpp
Command add_collect_command(CLI::App& app);  // doctor_command.cpp
Command add_trace_command(CLI::App& app);    // trace_command.cpp
Command add_exporter_command(CLI::App& app); // exporter_command.cpp

}  // namespace synscope::cli
