//! Builds the C programs against `include/` and the static library, and
//! runs them: `examples/redirect.c` (the book's pipe/Redirect),
//! `tests/conformance.c` (every export against the spec) and
//! `tests/unicode.c` (a `_UNICODE` build: `-D_UNICODE -DUNICODE
//! -fshort-wchar`).
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

use common::{compile, compile_with, run_checks, run_checks_with};

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
    run_checks(
        &compile("tests/conformance.c", "conformance"),
        "conformance",
    );
}

#[test]
fn a_unicode_program_builds_and_runs() {
    // tests/unicode.c with _UNICODE: TCHAR is WCHAR, _tmain gets UTF-16
    // argv, the unsuffixed names are the W functions.
    let program = compile_with(
        "tests/unicode.c",
        "unicode",
        &["-D_UNICODE", "-DUNICODE", "-fshort-wchar"],
    );
    run_checks_with(&program, "unicode", &["h\u{e9}llo"]);
}
