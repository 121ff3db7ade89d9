//! Builds `tests/inherit.c` against `include/` and the static library (see
//! `c_programs.rs` for how the library is found) and runs it: handle
//! inheritance through `CreateProcessA` with `bInheritHandles` TRUE. The
//! program re-runs itself as child and grandchild, passing handle values
//! on the command line; each child prints its own checks and exits with
//! its number of failures, which the top program checks. It runs with
//! `PIPESLOT_ROOT` set to a fresh directory of its own (removed
//! afterwards), so its pipe and mailslot names meet nobody else's.

mod common;

use std::process::Command;

use common::compile;

#[test]
fn inherit_program_passes_every_check() {
    let program = compile("tests/inherit.c", "inherit");
    // A short path: socket addresses are limited to 108 bytes.
    let root = std::env::temp_dir().join(format!(
        "psw-inherit-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let output = Command::new(&program)
        .env("PIPESLOT_ROOT", &root)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = parse_summary(last).unwrap_or_else(|| panic!("no summary: {stdout}"));
    assert!(passed > 0, "{stdout}");
    assert_eq!(failed, 0, "{stdout}");
    assert!(output.status.success(), "{output:?}");
}

/// Parses `N passed, M failed`.
fn parse_summary(line: &str) -> Option<(u32, u32)> {
    let (passed, failed) = line.split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}
