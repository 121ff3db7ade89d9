//! Builds `tests/inherit.c` against `include/` and the static library (see
//! `c_programs.rs` for how the library is found) and runs it: handle
//! inheritance through `CreateProcessA` with `bInheritHandles` TRUE. The
//! program re-runs itself as child and grandchild, passing handle values
//! on the command line; each child prints its own checks and exits with
//! its number of failures, which the top program checks. It runs with
//! `PIPESLOT_ROOT` set to a fresh directory of its own (removed
//! afterwards), so its pipe and mailslot names meet nobody else's.

mod common;

use common::{compile, run_checks};

#[test]
fn inherit_program_passes_every_check() {
    run_checks(&compile("tests/inherit.c", "inherit"), "inherit");
}
