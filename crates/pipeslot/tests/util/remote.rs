//! Remote names for the behaviour tests: the same tests, with every client
//! reaching its pipe as `\\hostb\pipe\PATH` through a gateway.
//!
//! The gateway here is a stand-in that lives in the test process: it owns
//! the gateway's machine-wide name under the test's [`Root`] (so servers
//! believe the remote principal it relays), and joins the two local legs
//! of `pipeslot::relay` back to back — no TLS and no network between them
//! (the gateway crate's tests and the network-namespace tests add those).
//! What the two pipe ends see is what they see through real gateways: the
//! client's frames and credits pass through two legs and a relay.
//!
//! [`remote_too!`] names tests of a file to run again, in a module
//! `remote`, with [`super::Root::new`] making remote roots (a thread-local
//! flag set around the test body; threads the test starts reach the pipe
//! through the `Root`, which remembers). A test left out of the list is
//! one that does not make sense remotely; the file says why.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pipeslot::namespace::{NameClaim, Namespace, Scope};
use pipeslot::relay::{accept_process, open_local, LegEvent, RelayLeg};
use pipeslot::PipeName;
use pipeslot_proto::handshake::{RemotePrincipal, ServerHello};
use pipeslot_proto::relay::GATEWAY_PIPE;

thread_local! {
    static REMOTE: Cell<bool> = const { Cell::new(false) };
}

/// Whether [`super::Root::new`] on this thread makes remote roots.
pub fn remote_mode() -> bool {
    REMOTE.with(Cell::get)
}

/// Runs `test` with remote roots (see the module docs).
pub fn run(test: fn()) {
    REMOTE.with(|flag| flag.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            REMOTE.with(|flag| flag.set(false));
        }
    }
    let _reset = Reset;
    test();
}

/// The host remote clients name.
pub const HOST: &str = "hostb";

/// The stand-in gateway of one root: serves until dropped.
pub struct Gateway {
    _claim: NameClaim,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Credit counts relayed so far (both directions, every connection).
    credits: Arc<AtomicU64>,
}

impl Gateway {
    /// Starts the gateway of `root`, relaying every process's request to
    /// the pipe of that name under `root` as a client from host `hosta`.
    pub fn start(root: &Path) -> Arc<Gateway> {
        let namespace = Namespace::at_root(root, Scope::MachineWide).unwrap();
        let claim = namespace
            .claim_pipe(
                &PipeName::parse(GATEWAY_PIPE).unwrap(),
                &[("role", "gateway")],
            )
            .unwrap();
        let listener =
            std::os::unix::net::UnixListener::bind(claim.socket_address().unwrap()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let root = root.to_path_buf();
        let credits = Arc::new(AtomicU64::new(0));
        let counted = credits.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            break;
                        };
                        tokio::spawn(relay(stream, root.clone(), counted.clone()));
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Arc::new(Gateway {
            _claim: claim,
            stop: Some(stop),
            credits,
        })
    }

    /// How many credit counts the gateway has relayed.
    pub fn credits_relayed(&self) -> u64 {
        self.credits.load(Ordering::SeqCst)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn relay(stream: tokio::net::UnixStream, root: std::path::PathBuf, credits: Arc<AtomicU64>) {
    let Ok(request) = accept_process(stream).await else {
        return;
    };
    let Ok(path) = PipeName::parse(request.path()) else {
        return;
    };
    let mut hello = request.hello().clone();
    hello.remote = Some(RemotePrincipal {
        host: "hosta".into(),
        subject: "CN=hosta".into(),
    });
    let (answer, server_leg) = match open_local(&path, &hello, Some(&root)).await {
        Ok(opened) => opened,
        Err(_) => (ServerHello::Unreachable, None),
    };
    if let Some(server) = &server_leg {
        request.publish_instances(server.instances());
    }
    let Ok(client_leg) = request.answer(answer).await else {
        return;
    };
    if let (Some(client), Some(server)) = (client_leg, server_leg) {
        splice(client, server, &credits).await;
    }
}

/// Joins two legs until either side ends, counting the credits relayed.
pub async fn splice(mut a: RelayLeg, mut b: RelayLeg, credits: &AtomicU64) {
    loop {
        tokio::select! {
            event = a.recv() => match event {
                Ok(LegEvent::Frames(frames)) => { if b.send(&frames).await.is_err() { break } }
                Ok(LegEvent::Credit(total)) => {
                    credits.fetch_add(1, Ordering::SeqCst);
                    if b.credit(total).await.is_err() { break }
                }
                Ok(LegEvent::Want) => b.want(),
                Ok(LegEvent::Instances(count)) => b.publish_instances(count),
                Ok(LegEvent::Closed) | Err(_) => break,
            },
            event = b.recv() => match event {
                Ok(LegEvent::Frames(frames)) => { if a.send(&frames).await.is_err() { break } }
                Ok(LegEvent::Credit(total)) => {
                    credits.fetch_add(1, Ordering::SeqCst);
                    if a.credit(total).await.is_err() { break }
                }
                Ok(LegEvent::Want) => a.want(),
                Ok(LegEvent::Instances(count)) => a.publish_instances(count),
                Ok(LegEvent::Closed) | Err(_) => break,
            },
        }
    }
    a.close().await;
    b.close().await;
}

/// Runs the named tests of the file again, in a module `remote`, with
/// remote roots: `remote_too!(test_a, test_b);`.
#[macro_export]
macro_rules! remote_too {
    ($($name:ident),* $(,)?) => {
        mod remote {
            $( #[test] fn $name() { $crate::util::remote::run(super::$name) } )*
        }
    };
}
