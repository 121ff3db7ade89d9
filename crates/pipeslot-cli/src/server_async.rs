//! The book's command server (serverNP, 4th edition), async: one tokio
//! runtime, one task per pipe instance, over [`pipeslot::tokio`].
//!
//! It behaves as `pipeslot server` (`server.rs`) does — the same wire
//! records ([`pipeslot_proto::classic`]), the same log lines, the same
//! announcement on the mailslot every CS_TIMEOUT, commands run without a
//! shell with stdout and stderr into a per-instance temp file sent back one
//! message per line, `$ShutDownServer`, Ctrl-C and SIGTERM — but where the
//! threaded server has a thread per instance and cancels blocked calls from
//! outside, this one has a task per instance and stops by *dropping* its
//! work:
//!
//! - Every instance task runs `select!(serve the instance, shutdown)`.
//!   When shutdown comes, the serving future is dropped wherever it waits —
//!   in `connect`, in `recv_message` from an idle client, in `send_msg` to
//!   a client that never reads, or on a running command. Each of those
//!   pipeslot calls is cancel safe (a dropped send leaves a whole message or
//!   none), and the command's child is `kill_on_drop`, so a client that
//!   never reads cannot hold the shutdown up.
//! - The task then disconnects its instance, deletes its temp file and
//!   ends; the server waits for all of them and exits.
//!
//! # Where this file is used
//!
//! This one file is both `pipeslot server --async` and the example
//! `cargo run -p pipeslot-cli --example async_server`: the CLI declares it
//! as its module `server_async`, and `examples/async_server.rs` includes
//! the same file with `#[path]`. So it depends on nothing of the CLI's (no
//! clap, no `crate::` items): only `pipeslot`, `pipeslot_proto`, `tokio`
//! and std, behind the small API [`Config`] + [`serve`]. The CLI adds its
//! argument parsing and error reporting on top; the example adds a
//! minimal `main`. (The CLI is a binary-only crate; a library target just
//! for this would collide with `pipeslot`'s docs, see Cargo.toml.)

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pipeslot::pipe::{PipeMode, ReadMode};
use pipeslot::tokio::{MailslotWriter, NamedPipeServer, ServerOptions};
use pipeslot::{ErrorKind, MailslotName, PipeName};
use pipeslot_proto::classic::{self, Announcement, END_OF_RESPONSE};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the server serves and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// The pipe whose instances it creates.
    pub pipe: PipeName,
    /// The locator mailslot its announcement goes to.
    pub mailslot: MailslotName,
    /// How many instances, and so clients served at once.
    pub instances: u32,
    /// CS_TIMEOUT: the broadcast period (and the pipe's default timeout).
    pub period: Duration,
    /// Clients of these uids may connect too (they can run any command as
    /// the server's user).
    pub allow_uids: Vec<u32>,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum SetupError {
    /// The configuration cannot work (a pipe name too long to announce).
    Usage(String),
    /// An OS call failed while doing what the text says.
    Os(&'static str, pipeslot::Error),
}

/// What a command that cannot start answers.
pub const CANNOT_CREATE_PROCESS: &str = "ERR: Cannot create process.";

/// The request that stops the server.
const SHUTDOWN_REQUEST: &[u8] = b"$ShutDownServer";

/// Runs the server until `$ShutDownServer`, Ctrl-C or SIGTERM, within a
/// tokio runtime with I/O, time and signals enabled (`enable_all`); any
/// flavour will do (the CLI uses a current-thread one: every instance on
/// one thread).
pub async fn serve(config: Config) -> Result<(), SetupError> {
    // Other hosts need the name with this computer's name in it.
    let announced = if config.mailslot.is_local() {
        config.pipe.clone()
    } else {
        config.pipe.for_network()
    };
    let announcement = Announcement::new(announced.as_str().as_bytes())
        .encode()
        .map_err(|e| SetupError::Usage(format!("Pipe name too long: {e}.")))?;

    let mut options = ServerOptions::new();
    options
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message)
        .max_instances(config.instances)
        .default_timeout(config.period)
        // As serverNP (and `pipeslot server`): remote clients reach it when
        // the host's gateway exports it.
        .reject_remote_clients(false);
    for &uid in &config.allow_uids {
        let _ = writeln!(
            io::stderr(),
            "pipeslot: warning: serving clients of uid {uid} too: they can run any command as this user."
        );
        options.allow_uid(uid);
    }
    let mut instances = Vec::new();
    for number in 0..config.instances {
        let server = options
            .create(config.pipe.as_str())
            .map_err(|e| SetupError::Os("Failure to open named pipe.", e))?;
        instances.push((server, TempFile::create(number)?));
    }
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;

    let shutdown = Shutdown::new();
    say(format_args!(
        "Server {} is running with {} instances (async: one task each); \
         announcing it to {} every {} ms.",
        config.pipe,
        config.instances,
        config.mailslot,
        config.period.as_millis()
    ));
    let broadcaster = tokio::spawn(broadcast(
        config.mailslot.clone(),
        announcement,
        config.period,
        shutdown.clone(),
    ));
    let mut workers = JoinSet::new();
    for (number, (server, temp)) in instances.into_iter().enumerate() {
        workers.spawn(instance(number, server, temp, shutdown.clone()));
    }

    tokio::select! {
        _ = terminate.recv() => say("In console control handler"),
        _ = interrupt.recv() => say("In console control handler"),
        () = shutdown.requested() => {}
    }
    shutdown.request();
    while let Some(ended) = workers.join_next().await {
        if ended.is_err() {
            let _ = writeln!(io::stderr(), "pipeslot: a server task panicked.");
        }
    }
    say("All Server worker threads have shut down.");
    let _ = broadcaster.await;
    say("Monitor thread has shut down.");
    say("Server process will exit.");
    Ok(())
}

fn signal_error(e: io::Error) -> SetupError {
    SetupError::Os(
        "Cannot create Ctrl handler",
        pipeslot::Error::from_io(e, "installing SIGINT and SIGTERM handlers"),
    )
}

/// The shutdown flag: set once, awaited by every task.
#[derive(Clone)]
struct Shutdown(Arc<watch::Sender<bool>>);

impl Shutdown {
    fn new() -> Shutdown {
        Shutdown(Arc::new(watch::Sender::new(false)))
    }

    fn request(&self) {
        self.0.send_replace(true);
    }

    /// Completes once shutdown is requested. Cancel safe.
    async fn requested(&self) {
        let mut flag = self.0.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = flag.wait_for(|&requested| requested).await;
    }
}

/// One instance's task: serves clients one after another until shutdown,
/// then cleans up.
async fn instance(number: usize, server: NamedPipeServer, mut temp: TempFile, shutdown: Shutdown) {
    tokio::select! {
        // Shutdown first: once it is requested, serving is not polled again.
        biased;
        () = shutdown.requested() => {}
        () = serve_instance(&server, &mut temp, &shutdown) => {}
    }
    // The serving future is gone, and with it any command it ran (killed
    // on drop) and any send it had pending (a whole message or none).
    let _ = server.disconnect();
    say(format_args!("Thread {number} shutting down."));
    temp.delete();
    say(format_args!("Exiting server thread number {number}."));
}

/// connect → requests → flush → disconnect, until a client asks for
/// shutdown (everything else ends by being dropped).
async fn serve_instance(server: &NamedPipeServer, temp: &mut TempFile, shutdown: &Shutdown) {
    loop {
        match server.connect().await {
            Ok(()) => {}
            // A client came before connect() (S42): the connection is good.
            Err(e) if e.kind() == ErrorKind::PipeConnected => {}
            // A client that came and went (S43), or anything else: free the
            // instance and listen again.
            Err(e) => {
                if e.kind() != ErrorKind::NoData {
                    let _ = writeln!(io::stderr(), "pipeslot: connect failed: {e}");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                let _ = server.disconnect();
                continue;
            }
        }
        let (pid, computer) = match server.peer_identity() {
            Ok(peer) => (peer.pid, peer.computer_name),
            Err(_) => (0, "localhost".to_owned()),
        };
        say(format_args!(
            "Connect to client process id: {pid} on computer: {computer}"
        ));
        let stop = serve_client(server, pid, temp).await;
        if stop {
            shutdown.request();
            // The instance task's select ends this future at its next wait.
            std::future::pending::<()>().await;
        }
        let _ = server.flush().await;
        let _ = server.disconnect();
    }
}

/// Answers one client's requests until it leaves or errs. True when it
/// asked for shutdown.
async fn serve_client(server: &NamedPipeServer, pid: u32, temp: &mut TempFile) -> bool {
    loop {
        // A read error is the client leaving (broken pipe) or a broken
        // connection: this client is done. The request is one 4100-byte
        // record: a longer message is refused before it is buffered (T12).
        let Ok(message) = server.recv_message(classic::REQUEST_LEN).await else {
            return false;
        };
        let command = match classic::decode_request(&message) {
            Ok(command) => command,
            Err(e) => {
                let _ = writeln!(
                    io::stderr(),
                    "pipeslot: bad request from client {pid}: {e}; disconnecting it."
                );
                return false;
            }
        };
        say(format_args!(
            "Command from client thread: {pid}. {}",
            String::from_utf8_lossy(command)
        ));
        if command == SHUTDOWN_REQUEST {
            // The client waits for an end of response: give it one before
            // everybody stops (the book's client hangs here). A client that
            // does not read it holds nothing up for longer than this.
            if server.send_msg(&END_OF_RESPONSE).await.is_ok() {
                let _ = tokio::time::timeout(SHUTDOWN_FLUSH, server.flush()).await;
            }
            return true;
        }
        if let Err(e) = temp.run(command).await {
            let _ = writeln!(io::stderr(), "pipeslot: temp file failed: {e}");
            return false;
        }
        if send_output(server, &mut temp.file).await.is_err()
            || server.send_msg(&END_OF_RESPONSE).await.is_err()
            || server.flush().await.is_err()
        {
            return false;
        }
    }
}

/// Sends the temp file, read from its start, one message per line.
///
/// The file is read with blocking calls: a regular file being read back
/// right after it was written comes from the page cache, and the waits
/// that matter — for the client to take the messages — are awaited.
async fn send_output(server: &NamedPipeServer, output: &mut File) -> Result<(), ()> {
    let mut buffer = Vec::with_capacity(READ_CHUNK);
    let mut at_end = false;
    loop {
        let mut start = 0;
        while let Some(len) = classic::first_line_len(&buffer[start..]) {
            send_line(server, &buffer[start..start + len]).await?;
            start += len;
        }
        if at_end {
            if start < buffer.len() {
                send_line(server, &buffer[start..]).await?;
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

/// Sends one line as a response record, less any NUL bytes (which a C
/// client could not show).
async fn send_line(server: &NamedPipeServer, line: &[u8]) -> Result<(), ()> {
    let without_nuls: Vec<u8>;
    let line = if line.contains(&0) {
        without_nuls = line.iter().copied().filter(|&b| b != 0).collect();
        &without_nuls[..]
    } else {
        line
    };
    if line.is_empty() {
        return Ok(());
    }
    // Lines come from `first_line_len`, so they fit, and NULs are gone.
    let message = classic::encode_response_line(line).map_err(|_| ())?;
    server.send_msg(&message).await.map(drop).map_err(drop)
}

/// Writes the announcement to the mailslot every `period`, whenever a
/// locator has created it, until shutdown.
async fn broadcast(
    mailslot: MailslotName,
    announcement: Vec<u8>,
    period: Duration,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            () = shutdown.requested() => break,
            () = tokio::time::sleep(period) => {}
        }
        // No mailslot: no client is looking for a server right now.
        let Ok(writer) = MailslotWriter::open(&mailslot) else {
            continue;
        };
        // A locator whose queue is full gets this announcement when it
        // takes one, within this period; the next period opens it again.
        let sent = tokio::select! {
            () = shutdown.requested() => break,
            sent = tokio::time::timeout(period, writer.send(&announcement)) => sent,
        };
        if let Ok(Err(e)) = sent {
            let _ = writeln!(io::stderr(), "pipeslot: Server MS Write error: {e}");
        }
    }
    say("Shut down flag set. Cancel all outstanding I/O operations.");
}

/// An instance's temp file (`pipeslot-server-PID-N-XXXX.tmp` in `$TMPDIR`,
/// mode 0600, kept open): the output of its current command.
struct TempFile {
    path: PathBuf,
    file: File,
}

impl TempFile {
    /// Creates a new file, mode 0600, in the temp directory.
    fn create(number: u32) -> Result<TempFile, SetupError> {
        let (path, file) =
            create_temp_file(number).map_err(|e| SetupError::Os("Cannot create temp file", e))?;
        Ok(TempFile { path, file })
    }

    /// Runs `command` with stdout and stderr into the emptied file, and
    /// leaves the file positioned at its start for reading back. A command
    /// that cannot start writes `ERR: Cannot create process.`. Dropping the
    /// future kills a command still running.
    async fn run(&mut self, command: &[u8]) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let words = split_words(command);
        let spawned = match words.split_first() {
            Some((program, args)) => tokio::process::Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(self.file.try_clone()?)
                .stderr(self.file.try_clone()?)
                .kill_on_drop(true)
                .spawn(),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        };
        match spawned {
            Ok(mut child) => {
                // An error here (there is none for a child of ours) would
                // leave what the command wrote so far.
                let _ = child.wait().await;
            }
            Err(_) => writeln!(self.file, "{CANNOT_CREATE_PROCESS}")?,
        }
        self.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    fn delete(&self) {
        delete_temp_file(&self.path);
    }
}

impl Drop for TempFile {
    /// A task that panicked leaves no file behind either.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates a command's temp file, `pipeslot-server-PID-N-XXXX.tmp` in
/// `$TMPDIR`, mode 0600, under a name nobody has (both servers use it).
pub fn create_temp_file(number: u32) -> Result<(PathBuf, File), pipeslot::Error> {
    let dir = std::env::temp_dir();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos())
        ^ std::process::id();
    let mut last_error = None;
    for attempt in 0..TEMP_ATTEMPTS {
        let path = dir.join(format!(
            "pipeslot-server-{}-{number}-{:x}.tmp",
            std::process::id(),
            seed.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
        ));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                last_error = Some(e);
                break;
            }
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::other("no name left"));
    Err(pipeslot::Error::from_io(
        error,
        format!("creating a temp file in {}", dir.display()),
    ))
}

/// Deletes a command's temp file at shutdown, saying so if that fails.
pub fn delete_temp_file(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            let _ = writeln!(
                io::stderr(),
                "pipeslot: Failed deleting temp file {}: {e}",
                path.display()
            );
        }
    }
}

/// The words of a command line: split at whitespace, nothing else (no
/// shell: quotes, globs, pipes and redirections are plain characters).
pub fn split_words(command: &[u8]) -> Vec<&OsStr> {
    command
        .split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .map(OsStr::from_bytes)
        .collect()
}

/// Prints one log line on stdout; a closed stdout is ignored (the server
/// goes on serving without its log).
fn say(line: impl std::fmt::Display) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// How long the client that asked for shutdown has to read its end record.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);

/// The pause after an unexpected connect error.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How much of the output is read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// How many names to try for a temp file.
const TEMP_ATTEMPTS: u32 = 16;
