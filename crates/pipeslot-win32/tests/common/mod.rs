//! What the C-program tests share: compiling a C source against
//! `include/` and the static library this test run was built with (see
//! `c_programs.rs` for how it is found).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles `source` (relative to the crate) into `CARGO_TARGET_TMPDIR`
/// as `pipeslot-win32-NAME`, with `-Wall -Werror`.
pub fn compile(source: &str, name: &str) -> PathBuf {
    compile_with(source, name, &[])
}

/// [`compile`] with extra compiler flags (e.g. a `_UNICODE` build).
pub fn compile_with(source: &str, name: &str, flags: &[&str]) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pipeslot-win32-{name}"));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(compiler)
        .arg("-Wall")
        .arg("-Werror")
        .args(flags)
        .arg("-I")
        .arg(crate_dir.join("include/compat"))
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join(source))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&output)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "compiling {source} failed");
    output
}

/// The static library: `PIPESLOT_WIN32_LIB`, else the one beside this test.
pub fn static_library() -> PathBuf {
    if let Some(path) = std::env::var_os("PIPESLOT_WIN32_LIB") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let library = exe.parent().unwrap().join("libpipeslot_win32.a");
    assert!(library.exists(), "{} not built", library.display());
    library
}

/// Runs a checking C program (one `ok  :`/`FAIL:` line per check, last line
/// `N passed, M failed`) with `PIPESLOT_ROOT` set to a fresh directory of
/// its own, removed afterwards, so that its pipe and mailslot names meet
/// nobody else's; prints its output and asserts that every check passed.
#[allow(dead_code)] // not every test file runs checking programs
pub fn run_checks(program: &Path, tag: &str) {
    run_checks_with(program, tag, &[]);
}

/// [`run_checks`] with arguments for the program.
#[allow(dead_code)] // not every test file runs checking programs
pub fn run_checks_with(program: &Path, tag: &str, args: &[&str]) {
    // A short path: socket addresses are limited to 108 bytes.
    let root = std::env::temp_dir().join(format!(
        "psw-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let output = Command::new(program)
        .args(args)
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
