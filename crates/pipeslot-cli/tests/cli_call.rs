//! `pipeslot call` (CallNamedPipe from the shell), `pipeslot completions`
//! and `pipeslot manpage`, run as the real binary. Each test has its own
//! PIPESLOT_ROOT; its pipe servers run in threads of the test, over the
//! library, in that root.

mod util;

use std::io::Read;
use std::path::Path;
use std::thread;

use pipeslot::pipe::{ClientOptions, PipeMode, PipeServer, ReadMode, ServerOptions};
use pipeslot::PipeName;
use util::{assert_no_panic, command, pipeslot, sandbox, stderr, stdout, wait};

/// A message pipe `\\.\pipe\<path>` in `root` with `instances` instances.
fn message_pipe(root: &Path, path: &str, instances: u32) -> PipeServer {
    ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(instances)
        .root(root)
        .create(&pipe_name(path))
        .expect("creating the pipe")
}

fn pipe_name(path: &str) -> PipeName {
    PipeName::local(path).expect("pipe name")
}

/// Serves one client on a new instance of `path`: reads its message, sends
/// `reply(message)` back and waits until the client has read it. Returns
/// the request it read.
fn serve_once(
    root: &Path,
    path: &str,
    reply: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static,
) -> thread::JoinHandle<Vec<u8>> {
    let server = message_pipe(root, path, 1);
    thread::spawn(move || {
        server.connect().expect("ConnectNamedPipe");
        let request = server.recv_message().expect("reading the request");
        server.send(&reply(&request)).expect("sending the reply");
        // Until the client has read it (an error: it went away first).
        let _ = server.flush();
        request
    })
}

#[test]
fn call_sends_the_words_and_prints_the_reply() {
    let root = sandbox();
    let server = serve_once(root.path(), "echo", |request| {
        let mut reply = b"got: ".to_vec();
        reply.extend_from_slice(request);
        reply
    });
    let output = pipeslot(root.path(), &["call", "echo", "hello", "world"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "got: hello world\n");
    assert_eq!(stderr(&output), "");
    assert_eq!(server.join().unwrap(), b"hello world");
}

#[test]
fn call_takes_a_full_name_and_keeps_a_reply_newline() {
    let root = sandbox();
    let server = serve_once(root.path(), "full", |_| b"line\n".to_vec());
    let output = pipeslot(root.path(), &["call", r"\\.\pipe\full", "x"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // The reply's own newline, and no second one.
    assert_eq!(stdout(&output), "line\n");
    assert_eq!(server.join().unwrap(), b"x");
}

#[test]
fn call_hex_sends_and_prints_bytes() {
    let root = sandbox();
    let server = serve_once(root.path(), "bytes", |request| {
        request.iter().rev().copied().collect()
    });
    let output = pipeslot(
        root.path(),
        &["call", "bytes", "--hex", "00ff", "68 65", "0A"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "0a6568ff00\n");
    assert_eq!(server.join().unwrap(), [0x00, 0xff, 0x68, 0x65, 0x0a]);
}

#[test]
fn call_prints_a_binary_reply_lossily() {
    let root = sandbox();
    let server = serve_once(root.path(), "lossy", |_| b"caf\xe9".to_vec());
    let output = pipeslot(root.path(), &["call", "lossy", "x"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "caf\u{fffd}\n");
    server.join().unwrap();
}

#[test]
fn call_a_reply_too_long_is_more_data() {
    let root = sandbox();
    let server = serve_once(root.path(), "big", |_| vec![b'a'; 64 * 1024 + 10]);
    let output = pipeslot(root.path(), &["call", "big", "x"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stdout.len(),
        64 * 1024 + 1,
        "the first 64 KiB and \\n"
    );
    let stderr = stderr(&output);
    assert!(stderr.starts_with("pipeslot call: "), "{stderr}");
    assert!(stderr.contains("(error 234)"), "{stderr}");
    drop(server);
}

#[test]
fn call_no_such_pipe_is_exit_3() {
    let root = sandbox();
    let output = pipeslot(root.path(), &["call", "nobody-here", "hi"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert_eq!(stdout(&output), "");
    let stderr = stderr(&output);
    assert!(stderr.starts_with("pipeslot call: "), "{stderr}");
    assert!(stderr.trim_end().ends_with("(error 2)"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_no_panic(output.status.code(), &stderr);
}

#[test]
fn call_busy_pipe_times_out_with_exit_4() {
    let root = sandbox();
    let server = message_pipe(root.path(), "busy", 1);
    // The one instance is serving a client of the test's own.
    let client = ClientOptions::new()
        .root(root.path())
        .open(&pipe_name("busy"))
        .expect("the first client");
    // The client came first: ERROR_PIPE_CONNECTED, which is success.
    match server.connect() {
        Ok(()) => {}
        Err(e) if e.win32_code() == 535 => {}
        Err(e) => panic!("ConnectNamedPipe: {e}"),
    }
    let output = pipeslot(root.path(), &["call", "busy", "hi", "--timeout", "50"]);
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let stderr = stderr(&output);
    assert!(
        stderr.contains("(error 121)") || stderr.contains("(error 231)"),
        "{stderr}"
    );
    drop(client);
    drop(server);
}

#[test]
fn call_bad_usage_is_exit_2() {
    let root = sandbox();
    for args in [
        &["call"][..],
        &["call", "name"],
        &["call", "name", "hi", "--bogus"],
        &["call", "name", "hi", "--timeout", "soon"],
        &["call", "name", "zz", "--hex"],
        &["call", "name", "abc", "--hex"],
    ] {
        let output = pipeslot(root.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
        assert_no_panic(output.status.code(), &stderr(&output));
    }
}

#[test]
fn call_help_documents_the_exit_codes() {
    let root = sandbox();
    let output = pipeslot(root.path(), &["call", "--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    for text in [
        "Exit status",
        "ERROR_FILE_NOT_FOUND",
        "ERROR_PIPE_BUSY",
        "--timeout",
        "--hex",
    ] {
        assert!(help.contains(text), "{text:?} in {help}");
    }
}

#[test]
fn call_with_closed_stdout_ends_quietly() {
    let root = sandbox();
    let server = serve_once(root.path(), "closed", |_| b"for nobody".to_vec());
    let mut child = command(root.path(), &["call", "closed", "hi"])
        .spawn()
        .expect("running pipeslot");
    // The only read end of its stdout: dropped at once.
    drop(child.stdout.take());
    let mut stderr_pipe = child.stderr.take().expect("stderr piped");
    let output = wait(child);
    let mut stderr = String::new();
    stderr_pipe.read_to_string(&mut stderr).unwrap();
    assert_no_panic(output.status.code(), &stderr);
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    server.join().unwrap();
}

#[test]
fn completions_for_each_shell_mention_call() {
    let root = sandbox();
    for shell in ["bash", "zsh", "fish"] {
        let output = pipeslot(root.path(), &["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {output:?}");
        let script = stdout(&output);
        assert!(script.contains("call"), "{shell}: {script}");
        assert!(script.contains("completions"), "{shell}: {script}");
    }
    let output = pipeslot(root.path(), &["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn manpage_is_roff() {
    let root = sandbox();
    for name in ["manpage", "man"] {
        let output = pipeslot(root.path(), &[name]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let page = stdout(&output);
        // The roff header: after clap_mangen's two lines defining the
        // apostrophe string, before any text.
        let header = page
            .lines()
            .find(|line| !line.starts_with(".ie") && !line.starts_with(".el"))
            .unwrap_or_default();
        assert!(header.starts_with(".TH pipeslot 1"), "{page}");
        assert!(page.contains(".SH NAME"), "{page}");
        assert!(page.contains("call"), "{page}");
    }
}
