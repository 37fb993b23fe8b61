// `tofu demo`: the project's main job.
#pragma once

namespace tofu::cli {

/// Runs the demo and prints what happens; returns the process exit code (0 when every check held).
int run_demo();

}  // namespace tofu::cli
