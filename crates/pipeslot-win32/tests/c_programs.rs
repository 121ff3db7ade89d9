//! Builds the C programs against `include/` and the static library, and
//! runs them: `examples/redirect.c` (the book's pipe/Redirect) and
//! `tests/conformance.c` (every export against the spec).
//!
//! Finding the library: `cargo test` builds this crate's library unit, with
//! every crate type of `Cargo.toml` (staticlib included), into the same
//! `deps/` directory as this test's executable, under a name without hash
//! (`libpipeslot_win32.a`, as cargo names staticlibs). So the test takes
//! `<dir of current_exe>/libpipeslot_win32.a`: it is the library this very
//! test run was built with, whatever the profile or target dir, with no
//! nested cargo. `PIPESLOT_WIN32_LIB` overrides the path. The C compiler is
//! `cc` (or `$CC`); outputs go to `CARGO_TARGET_TMPDIR`. The conformance
//! program runs with `PIPESLOT_ROOT` set to a fresh directory of its own,
//! so its pipe and mailslot names meet nobody else's.

mod common;

use std::process::Command;

use common::compile;

#[test]
fn redirect_pipes_echo_into_tr() {
    let program = compile("examples/redirect.c", "redirect");
    let output = Command::new(&program)
        .args(["echo", "hello", "=", "tr", "a-z", "A-Z"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "HELLO\n");
}

#[test]
fn conformance_program_passes_every_check() {
    let program = compile("tests/conformance.c", "conformance");
    // Pipe and mailslot names go to a namespace of this run only; the
    // library creates the directory (a short path: socket addresses are
    // limited to 108 bytes).
    let root = std::env::temp_dir().join(format!(
        "pipeslot-win32-conformance-{}-{}",
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
