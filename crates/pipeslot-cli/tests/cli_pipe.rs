//! `pipeslot pipe`: the Win32 Redirect program, run as the real binary.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `pipeslot` with `args` (stdin empty) and returns what it did.
fn pipeslot<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipeslot"));
    command.args(args);
    run(command)
}

/// Runs `command` with an empty stdin and returns its output, failing the
/// test (and killing the process) if it is not complete within 10 s — a
/// hang detector, e.g. for a pipe end the parent forgot to close, not a
/// timing assertion.
fn run(mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running pipeslot");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(output) => output.expect("waiting for pipeslot"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("hung: {command:?} did not finish within 10 s");
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failure: `exit_code`, and `message` as the first stderr line.
#[track_caller]
fn assert_fails(output: &Output, exit_code: i32, message: &str) {
    assert_eq!(output.status.code(), Some(exit_code), "{output:?}");
    let stderr = stderr(output);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(message),
        "first line {first:?} of {stderr:?}"
    );
}

/// The second stderr line: the OS error, or the usage hint.
fn detail_line(output: &Output) -> String {
    stderr(output).lines().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn first_command_feeds_the_second() {
    // CMD1's stdout feeds CMD2's stdin through an anonymous pipe, and the
    // second command sees end of data (the parent kept no pipe end, S135).
    let output = pipeslot(["pipe", "echo", "hello", "=", "tr", "a-z", "A-Z"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "HELLO\n");
    assert_eq!(stderr(&output), "");
}

#[test]
fn three_stages() {
    // More than two stages chain the same way.
    let output = pipeslot([
        "pipe",
        "printf",
        "b\\na\\nc\\n",
        "=",
        "sort",
        "=",
        "tr",
        "a-z",
        "A-Z",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "A\nB\nC\n");
}

#[test]
fn hyphen_arguments_pass_through() {
    // `pipeslot pipe ls -l = grep x` passes `-l` to ls: arguments after the
    // first command are the commands' own, hyphens included.
    let output = pipeslot(["pipe", "echo", "-n", "x-y", "=", "tr", "-d", "-"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "xy");
}

#[test]
fn non_utf8_arguments_pass_through() {
    // Arguments are OsStrings: bytes that are not UTF-8 reach the command.
    let odd = OsStr::from_bytes(b"caf\xe9");
    let output = pipeslot([
        OsStr::new("pipe"),
        OsStr::new("echo"),
        odd,
        OsStr::new("="),
        OsStr::new("cat"),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, b"caf\xe9\n");
}

#[test]
fn no_shell_is_involved() {
    // No shell: `|` and `$HOME` are plain arguments.
    let output = pipeslot(["pipe", "echo", "a|b", "$HOME", "=", "cat"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "a|b $HOME\n");
}

#[test]
fn exit_status_is_the_last_commands() {
    // On success the exit status is the last command's.
    let output = pipeslot(["pipe", "true", "=", "sh", "-c", "exit 3"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let output = pipeslot(["pipe", "false", "=", "true"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn killed_last_command_gives_128_plus_signal() {
    // 128+signal when the last command was killed by a signal.
    let output = pipeslot(["pipe", "true", "=", "sh", "-c", "kill -9 $$"]);
    assert_eq!(output.status.code(), Some(128 + 9), "{output:?}");
}

#[test]
fn sigpipe_ends_the_writer_quietly() {
    // SIGPIPE: children get the default action, so `yes` dies when `head`
    // has gone, and the pipeline exits with head's status 0.
    let output = pipeslot(["pipe", "yes", "=", "head", "-n1"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "y\n");
}

#[test]
fn no_separator_is_a_usage_error() {
    // `No command separator found.` (2), with a usage hint, no OS text.
    for args in [
        &["pipe", "echo", "a"][..],
        &["pipe"][..],
        &["pipe", "a=b"][..],
    ] {
        let output = pipeslot(args);
        assert_fails(&output, 2, "No command separator found.");
        assert!(detail_line(&output).contains("Usage:"), "{output:?}");
    }
}

#[test]
fn empty_first_command_is_a_usage_error() {
    // `First command not found.` (2).
    let output = pipeslot(["pipe", "=", "cat"]);
    assert_fails(&output, 2, "First command not found.");
    assert!(detail_line(&output).contains("Usage:"), "{output:?}");
}

#[test]
fn empty_second_command_is_a_usage_error() {
    // `Second command not found.` (2), a usage error with no OS error.
    let output = pipeslot(["pipe", "echo", "a", "="]);
    assert_fails(&output, 2, "Second command not found.");
    assert!(detail_line(&output).contains("Usage:"), "{output:?}");
    let output = pipeslot(["pipe", "echo", "a", "=", "=", "cat"]);
    assert_fails(&output, 2, "Second command not found.");
}

#[test]
fn empty_later_command_is_a_usage_error() {
    // An empty stage N>2 prints `Command <N> not found.` (2).
    let output = pipeslot(["pipe", "echo", "a", "=", "cat", "="]);
    assert_fails(&output, 2, "Command 3 not found.");
    let output = pipeslot(["pipe", "echo", "=", "cat", "=", "cat", "=", "=", "cat"]);
    assert_fails(&output, 2, "Command 4 not found.");
}

#[test]
fn pipe_create_failure() {
    // `Anon pipe create failed.` (3), with the OS error. The descriptor
    // limit 4 leaves one free descriptor after stdin/stdout/stderr: enough
    // for the dynamic loader (with 3 it fails before pipeslot runs), not
    // for pipe2, which needs two, so pipe2 fails with EMFILE.
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 4 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_pipeslot"))
        .args(["pipe", "echo", "a", "=", "cat"]);
    let output = run(command);
    assert_fails(&output, 3, "Anon pipe create failed.");
    let detail = detail_line(&output);
    assert!(detail.contains("Too many open files"), "{output:?}");
    assert!(
        detail.contains("The system cannot open the file."),
        "{output:?}"
    );
}

#[test]
fn first_command_start_failure() {
    // `CreateProc1 failed.` (4), then the Win32 message and the OS error.
    let output = pipeslot(["pipe", "pipeslot-no-such-program", "=", "cat"]);
    assert_fails(&output, 4, "CreateProc1 failed.");
    let detail = detail_line(&output);
    assert!(detail.contains("cannot find the file"), "{output:?}");
    assert!(detail.contains("No such file"), "{output:?}");
}

#[test]
fn second_command_start_failure() {
    // `CreateProc2 failed.` (5), with the OS text; the first stage, already
    // started, is killed and reaped rather than left running. (Were `sleep`
    // left running, it would hold pipeslot's stderr open for 30 s, and
    // `run` would report a hang.)
    let output = pipeslot(["pipe", "sleep", "30", "=", "pipeslot-no-such-program"]);
    assert_fails(&output, 5, "CreateProc2 failed.");
    let detail = detail_line(&output);
    assert!(detail.contains("cannot find the file"), "{output:?}");
    assert!(detail.contains("No such file"), "{output:?}");
}

#[test]
fn later_command_start_failure() {
    // Stage N>=2 failing prints `CreateProc<N> failed.` with exit 5.
    let output = pipeslot(["pipe", "true", "=", "cat", "=", "pipeslot-no-such-program"]);
    assert_fails(&output, 5, "CreateProc3 failed.");
    assert!(detail_line(&output).contains("No such file"), "{output:?}");
}

#[test]
fn top_level_help_shows_the_example() {
    // `pipeslot --help` explains `pipe` with an example.
    let output = pipeslot(["--help"]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("pipe"), "{text}");
    assert!(text.contains("pipeslot pipe ls -l = sort -k5 -n"), "{text}");
}

#[test]
fn pipe_help_shows_both_examples() {
    // `pipeslot pipe --help` shows help despite the hyphen-value
    // arguments, with the two-stage and a three-stage example.
    let output = pipeslot(["pipe", "--help"]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("pipeslot pipe ls -l = sort -k5 -n"), "{text}");
    assert!(
        text.lines()
            .any(|line| line.contains("pipeslot pipe") && line.matches(" = ").count() == 2),
        "no three-stage example in {text}"
    );
}

#[test]
fn no_subcommand_prints_help_and_exits_2() {
    // `pipeslot` alone prints the help and exits 2.
    let output = pipeslot(Vec::<&str>::new());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr(&output).contains("pipe"), "{output:?}");
}
