//! The async API (`pipeslot::tokio`) under a test's [`Root`]: the same
//! [`PipeSpec`] builds async instances and pairs, and runtimes run a test
//! body on a thread of its own, so that a hang — even one that blocks the
//! runtime's thread — fails the test instead of stalling it.
//!
//! ```ignore
//! current_thread(|| async {
//!     let root = Root::new();
//!     let AsyncPair { server, client } = root.pipe("echo").message().async_pair();
//!     client.send_msg(b"hi").await.unwrap();
//!     assert_eq!(done_10s(server.recv_message(64)).await.unwrap(), b"hi");
//! });
//! ```
//!
//! As everywhere in this harness, the limits only turn a hang into a
//! failure: [`done_10s`] allows 10 s, and [`assert_pending`] gives a future
//! 150 ms to finish when it must not (a lower bound only: a correct engine
//! never fails it under load).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use pipeslot::pipe::{MessageRead, PeekInfo, WaitTimeout};
use pipeslot::tokio::{ClientOptions, NamedPipeClient, NamedPipeServer};
use pipeslot::ErrorKind;

use super::pipe::{name, PipeSpec};
use super::Root;

/// The text of the local pipe `\\.\pipe\<path>`, as the async API takes
/// names (`impl AsRef<OsStr>`).
pub fn pipe_name(path: &str) -> String {
    name(path).to_string()
}

/// The two ends of one connection, both async.
pub struct AsyncPair {
    pub server: NamedPipeServer,
    pub client: NamedPipeClient,
}

impl AsyncPair {
    /// Both ends behind an `Arc`, for other tasks.
    pub fn shared(self) -> (Arc<NamedPipeServer>, Arc<NamedPipeClient>) {
        (Arc::new(self.server), Arc::new(self.client))
    }
}

impl Root {
    /// Async `ClientOptions` with this root set.
    pub fn async_client_options(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(self.path());
        options
    }

    /// Opens a read-write async client of `path` (never waits: busy is
    /// ERROR_PIPE_BUSY at once).
    pub fn async_open(&self, path: &str) -> pipeslot::Result<NamedPipeClient> {
        self.async_client_options().open(pipe_name(path))
    }

    /// An async client of `path`, which must open.
    #[track_caller]
    pub fn async_client(&self, path: &str) -> NamedPipeClient {
        self.async_open(path).unwrap()
    }

    /// Async `WaitNamedPipe` on `path`.
    pub async fn async_wait(&self, path: &str, timeout: WaitTimeout) -> pipeslot::Result<()> {
        self.async_client_options()
            .wait(pipe_name(path), timeout)
            .await
    }

    /// Waits (async, forever) until `path` has a listening instance and
    /// opens it, trying again when another client took the instance first
    /// (S40). Fails the test after 10 s.
    pub async fn async_client_when_free(&self, path: &str) -> NamedPipeClient {
        let options = self.async_client_options();
        done_10s(async {
            loop {
                options
                    .wait(pipe_name(path), WaitTimeout::Forever)
                    .await
                    .unwrap();
                match options.open(pipe_name(path)) {
                    Ok(client) => return client,
                    Err(e) if e.kind() == ErrorKind::PipeBusy => continue,
                    Err(e) => panic!("opening {path}: {e}"),
                }
            }
        })
        .await
    }

    /// Sync: waits until `path` has a listening instance and opens it,
    /// trying again when another client took the instance first (S40).
    #[track_caller]
    pub fn sync_client_when_free(&self, path: &str) -> pipeslot::pipe::PipeClient {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "hung: {path} never freed up");
            self.wait(path, WaitTimeout::Duration(Duration::from_secs(10)))
                .unwrap();
            match self.open(path) {
                Ok(client) => return client,
                Err(e) if e.kind() == ErrorKind::PipeBusy => continue,
                Err(e) => panic!("opening {path}: {e}"),
            }
        }
    }
}

impl PipeSpec {
    /// `CreateNamedPipe` of one more async instance.
    pub fn async_create(&self) -> pipeslot::Result<NamedPipeServer> {
        self.async_options().create(pipe_name(self.path()))
    }

    /// One more async instance, which must be created.
    #[track_caller]
    pub fn async_server(&self) -> NamedPipeServer {
        self.async_create().unwrap()
    }

    /// One more async instance and an async client opened on it (in the
    /// client read mode asked for, if any).
    #[track_caller]
    pub fn async_pair(&self) -> AsyncPair {
        let server = self.async_server();
        let client = ClientOptions::new()
            .root(self.root_path())
            .open(pipe_name(self.path()))
            .unwrap();
        if let Some(mode) = self.wanted_client_read_mode() {
            client.set_read_mode(mode).unwrap();
        }
        AsyncPair { server, client }
    }
}

/// Runs the test body `test()` on a current_thread runtime, on a thread
/// of its own; fails after 20 s. The body's future need not be `Send`.
#[track_caller]
pub fn current_thread<F, Fut>(test: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    on_runtime(false, test)
}

/// Runs the test body on a multi-thread runtime (2 workers), on a thread of
/// its own; fails after 20 s.
#[track_caller]
pub fn multi_thread<F, Fut>(test: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    on_runtime(true, test)
}

#[track_caller]
fn on_runtime<F, Fut>(multi: bool, test: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    let handle = thread::spawn(move || {
        let runtime = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("building a tokio runtime");
        runtime.block_on(test())
    });
    // A hang detector, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "hung: the test's runtime did not finish within 20 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Awaits `future`, failing the test if it has not completed within 10 s.
/// This detects hangs; it is not a timing assertion.
#[track_caller]
pub fn done_10s<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(Duration::from_secs(10), future).await {
            Ok(value) => value,
            Err(_) => panic!("hung: a future did not complete within 10 s ({caller})"),
        }
    }
}

/// Gives `future` 150 ms to complete and asserts that it did not; the
/// future is kept (not dropped) and can be awaited afterwards. A lower
/// bound only, like [`super::assert_still_blocked`].
pub async fn assert_pending<F>(future: &mut F, what: &str)
where
    F: Future + Unpin,
    F::Output: Debug,
{
    if let Ok(value) = tokio::time::timeout(Duration::from_millis(150), future).await {
        panic!("{what} should still be pending, but completed with {value:?}");
    }
}

/// Polls `future` exactly once and asserts it is pending (it registered its
/// wakers and can now be dropped "at an await point").
pub async fn poll_once_pending<F>(future: &mut F, what: &str)
where
    F: Future + Unpin,
    F::Output: Debug,
{
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = std::pin::Pin::new(&mut *future).poll(cx) {
            panic!("{what} should be pending, but completed with {value:?}");
        }
        Poll::Ready(())
    })
    .await
}

/// Polls `peek` until at least `bytes` bytes are available, yielding to the
/// runtime in between; fails after 10 s.
#[track_caller]
pub fn available<'a>(
    mut peek: impl FnMut() -> pipeslot::Result<PeekInfo> + 'a,
    bytes: usize,
) -> impl Future<Output = PeekInfo> + 'a {
    done_10s(async move {
        loop {
            let info = peek().expect("peek while waiting for data");
            if info.total_available >= bytes {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// Polls `check` until it returns true, yielding in between; fails after
/// 10 s.
pub async fn eventually_async(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "hung: {what} never happened within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `connect().await` that must succeed: Ok, or ERROR_PIPE_CONNECTED when
/// the client came first (S42). Fails after 10 s.
#[track_caller]
pub fn async_accept(server: &NamedPipeServer) -> impl Future<Output = ()> + '_ {
    let connect = done_10s(server.connect());
    async move {
        match connect.await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::PipeConnected => {}
            Err(e) => panic!("connect: {e}"),
        }
    }
}

/// What both async ends do, so that one helper serves either.
pub trait AsyncEnd {
    /// `recv_msg`.
    fn end_recv_msg<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = pipeslot::Result<MessageRead>> + 'a;
    /// `peek`.
    fn end_peek(&self, buf: &mut [u8]) -> pipeslot::Result<PeekInfo>;
}

macro_rules! async_end {
    ($ty:ty) => {
        impl AsyncEnd for $ty {
            fn end_recv_msg<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = pipeslot::Result<MessageRead>> + 'a {
                self.recv_msg(buf)
            }
            fn end_peek(&self, buf: &mut [u8]) -> pipeslot::Result<PeekInfo> {
                self.peek(buf)
            }
        }
    };
}
async_end!(NamedPipeServer);
async_end!(NamedPipeClient);

/// Reads exactly `len` bytes from `end` with `recv_msg` (pieces of
/// messages or stream bytes) and returns them; fails after 10 s.
pub async fn drain_async(end: &impl AsyncEnd, len: usize) -> Vec<u8> {
    let mut whole = Vec::with_capacity(len);
    let mut buf = vec![0u8; len];
    while whole.len() < len {
        let left = len - whole.len();
        let got = done_10s(end.end_recv_msg(&mut buf[..left])).await.unwrap();
        assert!(got.bytes > 0, "a read returned nothing");
        whole.extend_from_slice(&buf[..got.bytes]);
    }
    whole
}

/// Waits until `end` has at least `bytes` bytes available (peek).
pub fn end_available(end: &impl AsyncEnd, bytes: usize) -> impl Future<Output = PeekInfo> + '_ {
    available(move || end.end_peek(&mut []), bytes)
}
