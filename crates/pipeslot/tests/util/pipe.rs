//! Named pipes under a test's [`Root`]: the common shapes as a builder,
//! connected pairs, servers that loop on a thread, exact error assertions
//! and waiting for bytes to show up.
//!
//! ```ignore
//! let root = Root::new();
//! let Pair { server, client } = root.pipe("echo").message().max_instances(1).pair();
//! ```

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pipeslot::namespace::{Namespace, Scope};
use pipeslot::pipe::{
    ClientOptions, PeekInfo, PipeClient, PipeMode, PipeServer, ReadMode, ServerOptions, WaitTimeout,
};
use pipeslot::{ErrorKind, PipeName};

use super::{join_10s, on_thread, within_10s, Root};

/// The local pipe `\\.\pipe\<path>`.
pub fn name(path: &str) -> PipeName {
    PipeName::local(path).unwrap()
}

/// The name a client opens: `\\.\pipe\<path>`, or for a remote root
/// `\\hostb\pipe\<path>`.
pub fn client_name(remote: bool, path: &str) -> PipeName {
    if remote {
        PipeName::parse(&format!(r"\\{}\pipe\{path}", super::remote::HOST)).unwrap()
    } else {
        name(path)
    }
}

/// The two ends of one connection. Today both are the sync API's; the
/// same tests could take an async or remote pair built another way.
pub struct Pair {
    pub server: PipeServer,
    pub client: PipeClient,
}

impl Pair {
    /// Both ends behind an `Arc`, for calls on other threads
    /// ([`on_thread`]).
    pub fn shared(self) -> (Arc<PipeServer>, Arc<PipeClient>) {
        (Arc::new(self.server), Arc::new(self.client))
    }
}

/// How to create instances of one pipe name under a [`Root`]: a
/// `ServerOptions` with the root set, plus what the tests ask of a client.
/// The defaults are the library's: a duplex byte pipe, unlimited
/// instances.
#[derive(Clone)]
pub struct PipeSpec {
    root: PathBuf,
    path: String,
    options: ServerOptions,
    /// The same options for the async API ([`super::tokio_pipe`]); every
    /// setter below sets both, except [`PipeSpec::nowait`] and
    /// [`PipeSpec::with`] (sync only) and [`PipeSpec::with_async`].
    async_options: pipeslot::tokio::ServerOptions,
    client_read_mode: Option<ReadMode>,
    /// Clients open the pipe as another host's.
    remote: bool,
}

impl Root {
    /// The pipe `\\.\pipe\<path>` in this root's private namespace.
    pub fn pipe(&self, path: &str) -> PipeSpec {
        let mut options = ServerOptions::new();
        options.root(self.path());
        let mut async_options = pipeslot::tokio::ServerOptions::new();
        async_options.root(self.path());
        if self.is_remote() {
            options.reject_remote_clients(false);
            async_options.reject_remote_clients(false);
        }
        PipeSpec {
            root: self.path().to_owned(),
            path: path.to_owned(),
            options,
            async_options,
            client_read_mode: None,
            remote: self.is_remote(),
        }
    }

    /// `ClientOptions` with this root set.
    pub fn client_options(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(self.path());
        options
    }

    /// Opens a read-write client of `path`.
    pub fn open(&self, path: &str) -> pipeslot::Result<PipeClient> {
        self.client_options()
            .open(&client_name(self.is_remote(), path))
    }

    /// A read-write client of `path`, which must open.
    #[track_caller]
    pub fn client(&self, path: &str) -> PipeClient {
        self.open(path).unwrap()
    }

    /// `WaitNamedPipe` on `path`, in this thread.
    pub fn wait(&self, path: &str, timeout: WaitTimeout) -> pipeslot::Result<()> {
        self.client_options()
            .wait(&client_name(self.is_remote(), path), timeout)
    }

    /// `WaitNamedPipe` on `path` on another thread, failing the test if it
    /// hangs (see [`within_10s`]).
    #[track_caller]
    pub fn wait_10s(&self, path: &str, timeout: WaitTimeout) -> pipeslot::Result<()> {
        let options = self.client_options();
        let name = client_name(self.is_remote(), path);
        within_10s(move || options.wait(&name, timeout))
    }

    /// `WaitNamedPipe` on `path` on a thread, typically one expected to
    /// block. Join it with [`join_10s`].
    pub fn spawn_wait(
        &self,
        path: &str,
        timeout: WaitTimeout,
    ) -> thread::JoinHandle<pipeslot::Result<()>> {
        let options = self.client_options();
        let name = client_name(self.is_remote(), path);
        thread::spawn(move || options.wait(&name, timeout))
    }

    /// A client of `path` for an instance that must listen again first: the
    /// server's `ConnectNamedPipe` runs on a thread, the client waits until
    /// the instance listens, opens, and the connect is joined. Returns the
    /// client and what the connect returned.
    #[track_caller]
    pub fn connect_next_client(
        &self,
        server: &Arc<PipeServer>,
        path: &str,
    ) -> (PipeClient, pipeslot::Result<()>) {
        let connect = on_thread(server, |s| s.connect());
        self.wait_10s(path, WaitTimeout::Forever).unwrap();
        let client = self.client(path);
        (client, join_10s(connect))
    }

    /// The socket a pipe name of the private namespace maps to.
    pub fn socket_path(&self, path: &str) -> PathBuf {
        Namespace::at_root(self.path(), Scope::Private)
            .unwrap()
            .pipe_socket_path(&name(path))
    }
}

impl PipeSpec {
    /// A message pipe whose server reads in message mode.
    pub fn message(self) -> Self {
        self.mode(PipeMode::Message)
    }

    /// A pipe of type `mode` whose server reads in the same mode.
    pub fn mode(mut self, mode: PipeMode) -> Self {
        let read_mode = match mode {
            PipeMode::Byte => ReadMode::Byte,
            PipeMode::Message => ReadMode::Message,
        };
        self.options.pipe_mode(mode).read_mode(read_mode);
        self.async_options.pipe_mode(mode).read_mode(read_mode);
        self
    }

    /// The in (client to server) and out (server to client) quotas.
    pub fn quotas(mut self, inbound: u32, outbound: u32) -> Self {
        self.options
            .in_buffer_size(inbound)
            .out_buffer_size(outbound);
        self.async_options
            .in_buffer_size(inbound)
            .out_buffer_size(outbound);
        self
    }

    /// The in (client to server) quota only.
    pub fn in_quota(mut self, inbound: u32) -> Self {
        self.options.in_buffer_size(inbound);
        self.async_options.in_buffer_size(inbound);
        self
    }

    /// The out (server to client) quota only.
    pub fn out_quota(mut self, outbound: u32) -> Self {
        self.options.out_buffer_size(outbound);
        self.async_options.out_buffer_size(outbound);
        self
    }

    /// `nMaxInstances`.
    pub fn max_instances(mut self, instances: u32) -> Self {
        self.options.max_instances(instances);
        self.async_options.max_instances(instances);
        self
    }

    /// The server starts in PIPE_NOWAIT mode.
    pub fn nowait(mut self) -> Self {
        self.options.nowait(true);
        self
    }

    /// Any other server option: `.with(|o| o.access_outbound(false))`.
    /// Sync instances only; see [`PipeSpec::with_async`].
    pub fn with(mut self, set: impl FnOnce(&mut ServerOptions) -> &mut ServerOptions) -> Self {
        set(&mut self.options);
        self
    }

    /// Any other server option of async instances
    /// (`pipeslot::tokio::ServerOptions`).
    pub fn with_async(
        mut self,
        set: impl FnOnce(&mut pipeslot::tokio::ServerOptions) -> &mut pipeslot::tokio::ServerOptions,
    ) -> Self {
        set(&mut self.async_options);
        self
    }

    /// The async `ServerOptions` this spec stands for (root set).
    pub fn async_options(&self) -> &pipeslot::tokio::ServerOptions {
        &self.async_options
    }

    /// The pipe's path (`\\.\pipe\<path>`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The root the pipe lives under.
    pub fn root_path(&self) -> &std::path::Path {
        &self.root
    }

    /// The read mode asked for clients, if any.
    pub fn wanted_client_read_mode(&self) -> Option<ReadMode> {
        self.client_read_mode
    }

    /// The read mode [`PipeSpec::pair`] puts the client in (clients start
    /// in byte-read mode, S33).
    pub fn client_read_mode(mut self, mode: ReadMode) -> Self {
        self.client_read_mode = Some(mode);
        self
    }

    /// `CreateNamedPipe` of one more instance.
    pub fn create(&self) -> pipeslot::Result<PipeServer> {
        self.options.create(&name(&self.path))
    }

    /// One more instance, which must be created.
    #[track_caller]
    pub fn server(&self) -> PipeServer {
        self.create().unwrap()
    }

    /// One more instance and a client connected to it.
    #[track_caller]
    pub fn pair(&self) -> Pair {
        let server = self.server();
        let client = ClientOptions::new()
            .root(&self.root)
            .open(&client_name(self.remote, &self.path))
            .unwrap();
        if let Some(mode) = self.client_read_mode {
            client.set_read_mode(mode).unwrap();
        }
        Pair { server, client }
    }
}

/// `ConnectNamedPipe` that must succeed: TRUE, or ERROR_PIPE_CONNECTED when
/// the client came first (S42).
#[track_caller]
pub fn accept(server: &PipeServer) {
    match server.connect() {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::PipeConnected => {}
        Err(e) => panic!("connect: {e}"),
    }
}

/// Runs the server side of `clients` connections in turn on a thread:
/// [`accept`], `each`, then `DisconnectNamedPipe`. Join it with
/// [`join_10s`] for what `each` returned.
pub fn serve<R: Send + 'static>(
    server: &Arc<PipeServer>,
    clients: usize,
    mut each: impl FnMut(&PipeServer) -> R + Send + 'static,
) -> thread::JoinHandle<Vec<R>> {
    on_thread(server, move |server| {
        (0..clients)
            .map(|_| {
                accept(server);
                let result = each(server);
                server.disconnect().unwrap();
                result
            })
            .collect()
    })
}

/// Asserts that `result` failed with exactly `kind` and Win32 `code`.
#[track_caller]
pub fn expect_err<T: Debug>(result: pipeslot::Result<T>, kind: ErrorKind, code: u32) {
    match result {
        Ok(value) => panic!("expected {kind:?} ({code}), got Ok({value:?})"),
        Err(err) => assert_eq!(
            (err.kind(), err.win32_code()),
            (kind, code),
            "unexpected error: {err}"
        ),
    }
}

/// Asserts that `result` failed with exactly `kind` and Win32 `code`, for
/// values that are not `Debug` (pipe ends).
#[track_caller]
pub fn expect_open_err<T>(result: pipeslot::Result<T>, kind: ErrorKind, code: u32) {
    match result {
        Ok(_) => panic!("expected {kind:?} ({code}), got Ok"),
        Err(err) => assert_eq!(
            (err.kind(), err.win32_code()),
            (kind, code),
            "unexpected error: {err}"
        ),
    }
}

/// Polls `peek` until at least `bytes` bytes are available, failing after
/// 10 s. Bytes travel over a socket, so an end may see them a moment after
/// the writer's call returned; this waits for that, it asserts no timing.
#[track_caller]
pub fn wait_available(
    mut peek: impl FnMut() -> pipeslot::Result<PeekInfo>,
    bytes: usize,
) -> PeekInfo {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = peek().expect("peek while waiting for data");
        if info.total_available >= bytes {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "hung: only {} of {bytes} bytes available after 10 s",
            info.total_available
        );
        thread::sleep(Duration::from_millis(5));
    }
}
