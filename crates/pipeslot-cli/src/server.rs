//! `pipeslot server`: the book's multi-threaded command server (serverNP,
//! 4th edition), over [`pipeslot::pipe`] and [`pipeslot::mailslot`].
//! `--async` runs the same server as tokio tasks instead
//! ([`crate::server_async`]).
//!
//! # What it does
//!
//! - Creates `--instances` instances of the message pipe `--pipe` (default
//!   `\\.\PIPE\SERVER`, 4 instances), each served by a thread of its own
//!   that loops: connect → read requests until the client leaves → flush →
//!   disconnect. It logs `Connect to client process id: N on computer: H`
//!   and, for each request, `Command from client thread: N. CMD`.
//! - Each request is one command line ([`pipeslot_proto::classic`]). It
//!   runs **without a shell**: the line is split into words at whitespace
//!   (spaces, tabs), the first word is the program, found on `PATH`, and
//!   the others are its arguments exactly as written. Quotes, `*`, `|`,
//!   `>` and `$` mean nothing special (`echo "a b"` prints `"a b"`). The
//!   command's stdin is `/dev/null`; its stdout and stderr go into the
//!   instance's temp file, truncated for every command. When the command
//!   has ended, the file is sent back one message per line (lines longer
//!   than 4095 bytes are split; NUL bytes, which a C client could not show,
//!   are dropped), then the end-of-response record. A command that cannot
//!   start answers `ERR: Cannot create process.`.
//! - A broadcast thread writes the announcement record (the pipe name) to
//!   the mailslot `--mailslot` every `--timeout` ms (CS_TIMEOUT, default
//!   5000), whenever a locating client has created it.
//! - `$ShutDownServer` from any client (which gets its end-of-response
//!   record first — the book's client hangs there, ours does not), Ctrl-C or
//!   SIGTERM stop the server: every worker is cancelled — one waiting for a
//!   client, one reading from an idle client, one sending — and a running
//!   command is killed (its client gets no answer: it sees the server go
//!   away), so that the server is gone well within CS_TIMEOUT.
//!   The temp files are deleted and the exit status is 0.
//!
//! # Who may connect
//!
//! The server runs commands as its own user, so by default only clients of
//! its own uid (and root) may connect: the library's secure default.
//! `--allow-uid UID` widens that, one uid per flag, with a warning.
//!
//! # Temp files
//!
//! One per instance, `pipeslot-server-PID-N-XXXX.tmp` in `$TMPDIR` (else
//! `/tmp`), created new with mode 0600 and kept open: the command gets
//! duplicates of that one handle, so nobody can swap the file between a
//! command and its read-back.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use pipeslot::mailslot::MailslotWriter;
use pipeslot::pipe::PipeServer;
use pipeslot::{ErrorKind, MailslotName};
use pipeslot_proto::classic::{self, Announcement, END_OF_RESPONSE};

use crate::classic::{
    parse_mailslot_name, parse_pipe_name, say, DEFAULT_INSTANCES, DEFAULT_MAILSLOT, DEFAULT_PIPE,
    DEFAULT_TIMEOUT_MS, EXIT_FAILURE, SHUTDOWN_REQUEST,
};
use crate::failure::Failure;
// The threaded and async servers split command lines and word a failed
// start the same way.
use crate::server_async::{
    self, create_temp_file, delete_temp_file, split_words, CANNOT_CREATE_PROCESS,
};

/// The arguments of `pipeslot server`.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The pipe to serve: \\.\pipe\PATH, or PATH alone.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PIPE)]
    pipe: String,
    /// The mailslot to announce the pipe to: \\.\mailslot\PATH, or PATH
    /// alone; \\*\mailslot\PATH announces it to every host of the domain
    /// (through the gateway), as \\THIS-COMPUTER\pipe\NAME.
    #[arg(long, visible_alias = "announce-to", value_name = "NAME", default_value = DEFAULT_MAILSLOT)]
    mailslot: String,
    /// How many pipe instances, and so clients at once (1 to 254).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_INSTANCES,
          value_parser = clap::value_parser!(u32).range(1..=254))]
    instances: u32,
    /// CS_TIMEOUT in milliseconds: the broadcast period and the bound on
    /// shutting down.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Also serve clients running as UID (repeatable). They can run any
    /// command as this server's user.
    #[arg(long = "allow-uid", value_name = "UID")]
    allow_uids: Vec<u32>,
    /// Serve with async tasks instead of threads: one tokio runtime on one
    /// thread, a task per instance (same records, broadcast and shutdown).
    #[arg(long = "async")]
    use_async: bool,
}

/// One-line help of `pipeslot server`.
pub const ABOUT: &str = "Run the classic command server (serverNP): clients' commands, run here";

/// Full help of `pipeslot server`.
pub const LONG_ABOUT: &str = "\
Run the classic command server (the book's serverNP).

Each pipe instance is served by a thread: a client connects, sends command
lines, and gets each command's output (stdout and stderr) back one line per
message. Commands run without a shell: the line is split at whitespace into
the program and its arguments; quotes, globs, pipes and redirections mean
nothing special. The server announces its pipe name to locating clients
through the mailslot every --timeout ms. `$ShutDownServer` from a client,
Ctrl-C or SIGTERM stop it within --timeout ms. Only clients of this user (and
root) may connect unless --allow-uid says otherwise.

With --async the same server runs on pipeslot's async API instead: one tokio
runtime on one thread, one task per instance, commands awaited as child
processes, shutdown by cancelling the tasks (a client that never reads its
output cannot hold it up). Clients see no difference.";

/// Examples and exit codes of `pipeslot server`.
pub const AFTER_HELP: &str = r"Examples:
  pipeslot server
      serve \\.\PIPE\SERVER with 4 instances, announcing it every 5 s
  pipeslot server --pipe cmds --instances 8 --timeout 1000
  pipeslot server --async --instances 64
      the same server as tokio tasks: 64 clients at once on one thread

Exit status: 0 after a shutdown; 1 if the pipe, a temp file or the signal
handler cannot be set up; 2 on a usage error.";

/// Runs the server until `$ShutDownServer`, Ctrl-C or SIGTERM.
pub fn run(args: ServerArgs) -> Result<u8, Failure> {
    let pipe = parse_pipe_name(&args.pipe)?;
    let mailslot = parse_mailslot_name(&args.mailslot)?;
    let timeout = crate::classic::timeout(args.timeout);
    if args.use_async {
        return run_async(server_async::Config {
            pipe,
            mailslot,
            instances: args.instances,
            period: timeout,
            allow_uids: args.allow_uids,
        });
    }
    // Other hosts need the name with this computer's name in it.
    let announced = if mailslot.is_local() {
        pipe.clone()
    } else {
        pipe.for_network()
    };
    let announcement = Announcement::new(announced.as_str().as_bytes())
        .encode()
        .map_err(|e| Failure::usage(format!("Pipe name too long: {e}."), USAGE_HINT))?;

    let options = crate::classic::server_options(args.instances, timeout, &args.allow_uids);
    let mut instances = Vec::new();
    for number in 0..args.instances {
        let server = options
            .create(&pipe)
            .map_err(|e| Failure::os("Failure to open named pipe.", EXIT_FAILURE, e))?;
        let temp = TempFile::create(number)?;
        instances.push((Arc::new(server), temp));
    }

    let shutdown = Arc::new(Shutdown::default());
    let signals = SignalWatch::start(&shutdown)?;
    say(format_args!(
        "Server {pipe} is running with {} instances; announcing it to {mailslot} every {} ms.",
        args.instances, args.timeout
    ));

    let broadcaster = {
        let shutdown = shutdown.clone();
        thread::spawn(move || broadcast(&mailslot, &announcement, timeout, &shutdown))
    };
    let mut servers = Vec::new();
    let mut workers = Vec::new();
    let mut temp_paths = Vec::new();
    for (number, (server, mut temp)) in instances.into_iter().enumerate() {
        servers.push(server.clone());
        temp_paths.push(temp.path.clone());
        let shutdown = shutdown.clone();
        workers.push(thread::spawn(move || {
            serve_instance(number, &server, &mut temp, &shutdown);
        }));
    }

    shutdown.wait();
    // Workers look at the flag before each blocking call, and a cancel
    // reaches the calls under way; cancelling until they have all ended
    // covers a worker that looked just before the flag was set.
    while workers.iter().any(|worker| !worker.is_finished()) {
        for server in &servers {
            server.canceller().cancel();
        }
        thread::sleep(CANCEL_INTERVAL);
    }
    for worker in workers {
        if worker.join().is_err() {
            let _ = writeln!(io::stderr(), "pipeslot: a server thread panicked.");
        }
    }
    say("All Server worker threads have shut down.");
    let _ = broadcaster.join();
    say("Monitor thread has shut down.");
    signals.stop();
    drop(servers);
    for path in temp_paths {
        // Each worker deleted its file; this catches one that could not.
        let _ = std::fs::remove_file(path);
    }
    say("Server process will exit.");
    Ok(0)
}

/// `--async`: [`server_async::serve`] on a current-thread runtime — every
/// instance on this one thread, which is the point of serving them as tasks.
fn run_async(config: server_async::Config) -> Result<u8, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::os(
                "Cannot start the async runtime.",
                EXIT_FAILURE,
                pipeslot::Error::from_io(e, "building a tokio runtime"),
            )
        })?;
    runtime
        .block_on(server_async::serve(config))
        .map_err(|e| match e {
            server_async::SetupError::Usage(message) => Failure::usage(message, USAGE_HINT),
            server_async::SetupError::Os(what, error) => Failure::os(what, EXIT_FAILURE, error),
        })?;
    Ok(0)
}

/// The shutdown flag, with a way to wait for it.
#[derive(Default)]
struct Shutdown {
    requested: Mutex<bool>,
    changed: Condvar,
}

impl Shutdown {
    fn request(&self) {
        *self.requested.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.changed.notify_all();
    }

    fn is_requested(&self) -> bool {
        *self.requested.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until shutdown is requested.
    fn wait(&self) {
        let mut requested = self.requested.lock().unwrap_or_else(|p| p.into_inner());
        while !*requested {
            requested = self
                .changed
                .wait(requested)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits up to `limit`; true if shutdown was requested.
    fn wait_timeout(&self, limit: Duration) -> bool {
        let requested = self.requested.lock().unwrap_or_else(|p| p.into_inner());
        let (requested, _) = self
            .changed
            .wait_timeout_while(requested, limit, |requested| !*requested)
            .unwrap_or_else(|p| p.into_inner());
        *requested
    }
}

/// A thread that turns SIGINT and SIGTERM into a shutdown request.
struct SignalWatch {
    handle: signal_hook::iterator::Handle,
    thread: thread::JoinHandle<()>,
}

impl SignalWatch {
    fn start(shutdown: &Arc<Shutdown>) -> Result<SignalWatch, Failure> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(|e| {
            Failure::os(
                "Cannot create Ctrl handler",
                EXIT_FAILURE,
                pipeslot::Error::from_io(e, "installing SIGINT and SIGTERM handlers"),
            )
        })?;
        let handle = signals.handle();
        let shutdown = shutdown.clone();
        let thread = thread::spawn(move || {
            if signals.forever().next().is_some() {
                say("In console control handler");
                shutdown.request();
            }
        });
        Ok(SignalWatch { handle, thread })
    }

    fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

/// A worker: connect → requests → flush → disconnect, until shutdown.
fn serve_instance(number: usize, server: &PipeServer, temp: &mut TempFile, shutdown: &Shutdown) {
    while !shutdown.is_requested() {
        match server.connect() {
            Ok(()) => {}
            // A client came before connect() (S42): the connection is good.
            Err(e) if e.kind() == ErrorKind::PipeConnected => {}
            // Cancelled: the loop looks at the flag.
            Err(e) if e.kind() == ErrorKind::OperationAborted => continue,
            // A client that came and went (S43), or anything else: free the
            // instance and listen again.
            Err(e) => {
                if e.kind() != ErrorKind::NoData {
                    let _ = writeln!(io::stderr(), "pipeslot: connect failed: {e}");
                    shutdown.wait_timeout(RETRY_PAUSE);
                }
                let _ = server.disconnect();
                continue;
            }
        }
        let pid = server.client_process_id().unwrap_or(0);
        let computer = server
            .client_computer_name()
            .unwrap_or_else(|_| "localhost".to_owned());
        say(format_args!(
            "Connect to client process id: {pid} on computer: {computer}"
        ));
        serve_client(server, pid, temp, shutdown);
        if !shutdown.is_requested() {
            let _ = server.flush();
        }
        let _ = server.disconnect();
    }
    say(format_args!("Thread {number} shutting down."));
    temp.delete();
    say(format_args!("Exiting server thread number {number}."));
}

/// Answers one client's requests until it leaves, errs or shutdown.
fn serve_client(server: &PipeServer, pid: u32, temp: &mut TempFile, shutdown: &Shutdown) {
    while !shutdown.is_requested() {
        // A read error is the client leaving (broken pipe), a cancel, or a
        // broken connection: either way this client is done.
        // The request is one 4100-byte record: a longer message is refused
        // before it is buffered (T12).
        let Ok(message) = server.recv_message_limited(classic::REQUEST_LEN) else {
            return;
        };
        let command = match classic::decode_request(&message) {
            Ok(command) => command,
            Err(e) => {
                let _ = writeln!(
                    io::stderr(),
                    "pipeslot: bad request from client {pid}: {e}; disconnecting it."
                );
                return;
            }
        };
        say(format_args!(
            "Command from client thread: {pid}. {}",
            String::from_utf8_lossy(command)
        ));
        if command == SHUTDOWN_REQUEST {
            // The client waits for an end of response: give it one before
            // everybody stops (the book's client hangs here).
            if server.send(&END_OF_RESPONSE).is_ok() {
                let _ = server.flush();
            }
            shutdown.request();
            return;
        }
        if let Err(e) = temp.run(command, shutdown) {
            let _ = writeln!(io::stderr(), "pipeslot: temp file failed: {e}");
            return;
        }
        if shutdown.is_requested() {
            // The command was killed: no answer, and the client sees the
            // server go away.
            return;
        }
        if send_output(server, &mut temp.file).is_err()
            || server.send(&END_OF_RESPONSE).is_err()
            || server.flush().is_err()
        {
            return;
        }
    }
}

/// Sends the temp file, read from its start, one message per line.
fn send_output(server: &PipeServer, output: &mut File) -> Result<(), ()> {
    let mut buffer = Vec::with_capacity(READ_CHUNK);
    let mut at_end = false;
    loop {
        let mut start = 0;
        while let Some(len) = classic::first_line_len(&buffer[start..]) {
            send_line(server, &buffer[start..start + len])?;
            start += len;
        }
        if at_end {
            if start < buffer.len() {
                send_line(server, &buffer[start..])?;
            }
            return Ok(());
        }
        buffer.drain(..start);
        let before = buffer.len();
        buffer.resize(before + READ_CHUNK, 0);
        let read = loop {
            match output.read(&mut buffer[before..]) {
                Ok(read) => break read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break 0,
            }
        };
        buffer.truncate(before + read);
        at_end = read == 0;
    }
}

/// Sends one line, less any NUL bytes.
fn send_line(server: &PipeServer, line: &[u8]) -> Result<(), ()> {
    let owned;
    let line = if line.contains(&0) {
        owned = line
            .iter()
            .copied()
            .filter(|&b| b != 0)
            .collect::<Vec<u8>>();
        &owned[..]
    } else {
        line
    };
    if line.is_empty() {
        return Ok(());
    }
    // Lines come from `first_line_len`, so they fit, and NULs are gone.
    let message = classic::encode_response_line(line).map_err(|_| ())?;
    server.send(&message).map(|_| ()).map_err(|_| ())
}

/// Writes the announcement to the mailslot every `period`, whenever a
/// locator has created it, until shutdown.
fn broadcast(mailslot: &MailslotName, announcement: &[u8], period: Duration, shutdown: &Shutdown) {
    while !shutdown.wait_timeout(period) {
        // No mailslot: no client is looking for a server right now.
        let Ok(writer) = MailslotWriter::open(mailslot) else {
            continue;
        };
        if let Err(e) = writer.write(announcement) {
            let _ = writeln!(io::stderr(), "pipeslot: Server MS Write error: {e}");
        }
    }
    say("Shut down flag set. Cancel all outstanding I/O operations.");
}

/// An instance's temp file: the output of its current command.
struct TempFile {
    path: PathBuf,
    file: File,
}

impl TempFile {
    /// Creates a new file, mode 0600, in the temp directory.
    fn create(number: u32) -> Result<TempFile, Failure> {
        let (path, file) = create_temp_file(number)
            .map_err(|e| Failure::os("Cannot create temp file", EXIT_FAILURE, e))?;
        Ok(TempFile { path, file })
    }

    /// Runs `command` with stdout and stderr into the emptied file, and
    /// leaves the file positioned at its start for reading back. A command
    /// that cannot start writes `ERR: Cannot create process.`; one still
    /// running at shutdown is killed.
    fn run(&mut self, command: &[u8], shutdown: &Shutdown) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let words = split_words(command);
        let spawned = match words.split_first() {
            Some((program, args)) => Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(self.file.try_clone()?)
                .stderr(self.file.try_clone()?)
                .spawn(),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        };
        match spawned {
            Ok(child) => wait_or_kill(child, shutdown),
            Err(_) => writeln!(self.file, "{CANNOT_CREATE_PROCESS}")?,
        }
        self.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    fn delete(&self) {
        delete_temp_file(&self.path);
    }
}

/// Waits for the command to end, polling so that a shutdown can kill it.
fn wait_or_kill(mut child: Child, shutdown: &Shutdown) {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {}
        }
        if shutdown.wait_timeout(pause) {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        pause = (pause * 2).min(MAX_WAIT_POLL);
    }
}

/// How often the main thread cancels workers that have not ended yet.
const CANCEL_INTERVAL: Duration = Duration::from_millis(20);

/// The longest pause between looks at a running command.
const MAX_WAIT_POLL: Duration = Duration::from_millis(20);

/// The pause after an unexpected connect error.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How much of the output is read at a time.
const READ_CHUNK: usize = 64 * 1024;

const USAGE_HINT: &str = "Usage: pipeslot server [--pipe NAME] [--mailslot NAME] [--instances N] \
                          [--timeout MS] [--async] (see `pipeslot server --help`)";

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn words_are_split_at_whitespace_only() {
        let words = split_words(b"  echo \"a  b\"\t*.rs | x ");
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        assert_eq!(words, [&b"echo"[..], b"\"a", b"b\"", b"*.rs", b"|", b"x"]);
        assert!(split_words(b" \t ").is_empty());
    }
}
