//! What the C-program tests share: compiling a C source against
//! `include/` and the static library this test run was built with (see
//! `c_programs.rs` for how it is found).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles `source` (relative to the crate) into `CARGO_TARGET_TMPDIR`
/// as `pipeslot-win32-NAME`, with `-Wall -Werror`.
pub fn compile(source: &str, name: &str) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pipeslot-win32-{name}"));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(compiler)
        .arg("-Wall")
        .arg("-Werror")
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
