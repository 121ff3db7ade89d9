//! One thread per served name: it accepts connections and multiplexes
//! every handshake in progress and every waiting client (WaitNamedPipe) in
//! one `poll(2)`, with their deadlines — no thread per client, so a
//! thousand clients connecting at once cost no thousand threads.
//!
//! Limits (T11, T16): at most [`MAX_INCOMPLETE`] handshakes at once, and
//! [`MAX_INCOMPLETE_PER_UID`] from one uid; the server's own uid and root
//! are not counted against the global cap, so other users' silent
//! connections cannot lock the owner out. A hello that is already there
//! when its connection is accepted is answered at once, and before a new
//! connection is refused for a cap the hellos that arrived meanwhile are
//! taken, so a burst of real clients is not refused; a connection still
//! over a cap is answered `LimitsExceeded` and closed. At most [`MAX_WAITERS_PER_UID`] waiting clients
//! per uid (and [`MAX_WAITERS`] in all); beyond that a client is answered
//! `LimitsExceeded` (ERROR_PIPE_BUSY on its side).
//!
//! Instances that other processes serve (`super::elsewhere`) are watched
//! here too: each one's connection says when it listens again, and its
//! end removes the instance. While there are any, the acceptor keeps the
//! name (its owner and core) alive, so that the name lives on after this
//! process's own instances closed, as on Windows (S27).
//!
//! The acceptor also keeps the name's socket file in place (T4): if it is
//! removed or replaced while the name's lock is still ours, it is bound
//! again. It wakes for that check every [`SOCKET_CHECK`]; everything else
//! wakes it through a descriptor (a connection, the listener, the name's
//! event).

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use pipeslot_proto::handshake::ServerHello;

use super::handshake::{PendingHello, Progress, Waiter};
use super::names::{Core, NameOwner};
use crate::sys::event::{self, PollFlags};
use crate::sys::stream;

/// How many connections may be in their handshake at once (T11).
pub(crate) const MAX_INCOMPLETE: usize = 64;

/// How many of those may come from one uid, so that one user's silent
/// connections cannot take every place (T11).
pub(crate) const MAX_INCOMPLETE_PER_UID: usize = 16;

/// How many clients of one uid may wait for an instance at once (T16).
pub(crate) const MAX_WAITERS_PER_UID: usize = 256;

/// How many clients may wait for an instance at once, in all.
pub(crate) const MAX_WAITERS: usize = 4096;

/// How often the acceptor checks that its socket file is still in place
/// (T4).
const SOCKET_CHECK: Duration = Duration::from_millis(250);

/// An instance another process serves (added by it, or handed to a
/// child), as the acceptor watches it: the connection its
/// [`ToOwner`](pipeslot_proto::instance::ToOwner) messages come on, which
/// ends when the instance does. Taken from the slot's `Remote`.
struct Provider {
    id: u32,
    stream: Arc<UnixStream>,
}

/// Accepts and serves handshakes until the name goes away.
pub(crate) fn run(
    mut listener: UnixListener,
    mut identity: Option<(u64, u64)>,
    core: Weak<Core>,
    owner: Weak<NameOwner>,
) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    let mut hellos: Vec<PendingHello> = Vec::new();
    let mut waiters: Vec<Waiter> = Vec::new();
    let mut providers: Vec<Provider> = Vec::new();
    // The name, kept alive while other processes serve instances of it.
    let mut keep: Option<(Arc<NameOwner>, Arc<Core>)> = None;
    let mut next_check = Instant::now() + SOCKET_CHECK;
    loop {
        if providers.is_empty() {
            keep = None;
        } else if keep.is_none() {
            keep = owner.upgrade().zip(core.upgrade());
        }
        let Some(core) = core.upgrade() else { return };
        if owner.strong_count() == 0 || core.lock().closed {
            for waiter in waiters.drain(..) {
                waiter.answer(ServerHello::NoInstance);
            }
            return;
        }
        let now = Instant::now();
        // Waiters whose answer is known, and handshakes out of time.
        waiters.retain(|waiter| match waiter.answer_now(&core, now) {
            Some(answer) => {
                waiter.answer(answer);
                false
            }
            None => true,
        });
        hellos.retain(|hello| hello.deadline > now); // T11: it never said hello
        {
            // Instances wake the acceptor only while it holds waiters: the
            // count is published under the registry's lock, and what it
            // guards is looked at again under the same lock.
            let mut registry = core.lock();
            registry.waiters = waiters.len();
            // Instances other processes serve — added by them
            // (`PendingHello::add_instance`) or handed to a child
            // (`PipeServer::hand_off_instance`) — are watched from now on.
            for (&id, slot) in &registry.slots {
                if let Some(remote) = &slot.remote {
                    if !providers.iter().any(|p| p.id == id) {
                        providers.push(Provider {
                            id,
                            stream: remote.stream.clone(),
                        });
                    }
                }
            }
            if !waiters.is_empty() && (!registry.listening.is_empty() || registry.closed) {
                continue;
            }
        }
        let mut deadline = next_check;
        for hello in &hellos {
            deadline = deadline.min(hello.deadline);
        }
        for waiter in &waiters {
            if let Some(d) = waiter.deadline {
                deadline = deadline.min(d);
            }
        }
        let ready = {
            let mut fds = Vec::with_capacity(2 + hellos.len() + waiters.len() + providers.len());
            fds.push(listener.as_fd());
            fds.extend(hellos.iter().map(|h| h.stream.as_fd()));
            // A waiting client that goes away reads as end of stream.
            fds.extend(waiters.iter().map(|w| w.stream.as_fd()));
            fds.extend(providers.iter().map(|p| p.stream.as_fd()));
            event::wait_many(
                &fds,
                PollFlags::IN,
                &core.acceptor_wake,
                Some(deadline.saturating_duration_since(now)),
            )
        };
        let Ok(ready) = ready else { return };
        if ready.woken {
            core.acceptor_wake.clear();
        }
        let now = Instant::now();
        // Oldest first; removals from the back keep indices valid.
        let hello_ready = &ready.fds[1..1 + hellos.len()];
        let waiter_ready = &ready.fds[1 + hellos.len()..1 + hellos.len() + waiters.len()];
        let provider_ready = &ready.fds[1 + hellos.len() + waiters.len()..];
        for i in (0..providers.len()).rev() {
            if !provider_ready[i].is_empty() && !provider_speaks(&providers[i], &core) {
                let gone = providers.swap_remove(i);
                core.remove_instance(gone.id);
            }
        }
        for i in (0..waiters.len()).rev() {
            if !waiter_ready[i].is_empty() {
                waiters.swap_remove(i);
            }
        }
        for i in (0..hellos.len()).rev() {
            if hello_ready[i].is_empty() {
                continue;
            }
            let progress = hellos[i].readable(&core, now);
            if !matches!(progress, Progress::More) {
                let hello = hellos.swap_remove(i);
                settle(hello, progress, &core, &mut waiters);
            }
        }
        if !ready.fds[0].is_empty() {
            accept_all(&listener, &core, &mut hellos, &mut waiters, now);
        }
        if now >= next_check {
            next_check = now + SOCKET_CHECK;
            let Some(owner) = owner.upgrade() else { return };
            if owner.claim.socket_identity() != identity {
                if let Ok((fresh, id)) = owner.rebind() {
                    if fresh.set_nonblocking(true).is_ok() {
                        listener = fresh;
                        identity = Some(id);
                    }
                }
            }
        }
    }
}

/// Accepts the connections waiting on the listener, within the limits:
/// until one's hello is already there (served at once; the next poll
/// finds the rest) or none is left.
fn accept_all(
    listener: &UnixListener,
    core: &Arc<Core>,
    hellos: &mut Vec<PendingHello>,
    waiters: &mut Vec<Waiter>,
    now: Instant,
) {
    loop {
        let stream = match stream::accept_nonblocking(listener) {
            Ok(stream) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                // T8: out of descriptors. The connection stays queued; the
                // next round (at most SOCKET_CHECK away) tries again, instead
                // of spinning on a readable listener.
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
            Err(_) => return, // nothing more (or shut down: the loop ends)
        };
        let Ok(peer) = stream::peer_credentials(stream.as_fd()) else {
            continue;
        };
        let mut hello = PendingHello::new(stream, peer, now);
        // A client sends its hello right after connecting: it is often here
        // already, and then it costs no round through poll.
        let progress = hello.readable(core, now);
        if !matches!(progress, Progress::More) {
            settle(hello, progress, core, waiters);
            // Served at once: the listener, polled again, says whether
            // more wait — an accept that finds none would cost every
            // single open a system call.
            return;
        }
        if make_room(hellos, waiters, core, peer.uid, now) {
            hellos.push(hello);
        } else {
            // T11: over a cap; closed at once, told why.
            hello.refuse(ServerHello::LimitsExceeded);
        }
    }
}

/// Holds a client that waits for an instance, within the limits (T16).
fn hold(waiters: &mut Vec<Waiter>, hello: PendingHello, deadline: Option<Instant>) {
    let uid = hello.peer.uid;
    let of_uid = waiters.iter().filter(|w| w.uid == uid).count();
    let waiter = hello.into_waiter(deadline);
    if of_uid >= MAX_WAITERS_PER_UID || waiters.len() >= MAX_WAITERS {
        waiter.answer(ServerHello::LimitsExceeded);
    } else {
        waiters.push(waiter);
    }
}

/// Whether one more handshake of `uid` fits (T11), after taking the
/// hellos that have arrived meanwhile from the handshakes in progress — a
/// burst of real clients, whose hellos follow their connections at once,
/// frees its places as it goes; only silence keeps them.
fn make_room(
    hellos: &mut Vec<PendingHello>,
    waiters: &mut Vec<Waiter>,
    core: &Arc<Core>,
    uid: u32,
    now: Instant,
) -> bool {
    if fits(hellos, core.own_uid, uid) {
        return true;
    }
    for i in (0..hellos.len()).rev() {
        let progress = hellos[i].readable(core, now);
        if !matches!(progress, Progress::More) {
            let hello = hellos.swap_remove(i);
            settle(hello, progress, core, waiters);
        }
    }
    fits(hellos, core.own_uid, uid)
}

/// Does what a hello's progress (other than [`Progress::More`]) says.
fn settle(hello: PendingHello, progress: Progress, core: &Arc<Core>, waiters: &mut Vec<Waiter>) {
    match progress {
        Progress::More | Progress::Done => {}
        Progress::Open(credits) => hello.bind(credits, core),
        Progress::Wait(deadline) => hold(waiters, hello, deadline),
        Progress::Instance(request) => hello.add_instance(request, core),
    }
}

/// Reads what an instance another process serves says; false when its
/// connection ended (or said something that means nothing: it is
/// dropped, T-rules for peers apply to it as to any).
fn provider_speaks(provider: &Provider, core: &Core) -> bool {
    let mut buf = [0u8; 16];
    match stream::receive(provider.stream.as_fd(), &mut buf, false) {
        Ok(None) => true,
        Ok(Some(0)) | Err(_) => false,
        Ok(Some(n)) => buf[..n].iter().all(
            |&byte| match pipeslot_proto::instance::ToOwner::decode(byte) {
                Some(pipeslot_proto::instance::ToOwner::Listen) => {
                    core.remote_listens(provider.id);
                    true
                }
                None => false,
            },
        ),
    }
}

/// The caps: per uid, and globally for other than privileged uids
/// (`owner`, the server's uid, and root).
fn fits(hellos: &[PendingHello], owner: u32, uid: u32) -> bool {
    let privileged = |uid: u32| uid == owner || uid == 0;
    let mine = hellos.iter().filter(|h| h.peer.uid == uid).count();
    let counted = hellos.iter().filter(|h| !privileged(h.peer.uid)).count();
    mine < MAX_INCOMPLETE_PER_UID && (privileged(uid) || counted < MAX_INCOMPLETE)
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::sys::stream::PeerCredentials;

    fn silent(uid: u32) -> PendingHello {
        let (stream, _peer) = UnixStream::pair().unwrap();
        let peer = PeerCredentials {
            pid: 1,
            uid,
            gid: uid,
        };
        PendingHello::new(stream, peer, Instant::now())
    }

    #[test]
    fn other_users_cannot_lock_the_owner_out() {
        // T11 (issue 11 item 10): four other uids fill the global cap with
        // 16 silent connections each; the owner's uid still fits, a fifth
        // uid does not, and no uid gets a 17th place.
        let owner = 1000;
        let hellos: Vec<PendingHello> = (2001..=2004)
            .flat_map(|uid| (0..MAX_INCOMPLETE_PER_UID).map(move |_| silent(uid)))
            .collect();
        assert_eq!(hellos.len(), MAX_INCOMPLETE);
        assert!(fits(&hellos, owner, owner));
        assert!(fits(&hellos, owner, 0));
        assert!(!fits(&hellos, owner, 2005));
        assert!(!fits(&hellos, owner, 2001));
        let own: Vec<PendingHello> = (0..MAX_INCOMPLETE_PER_UID).map(|_| silent(owner)).collect();
        assert!(
            !fits(&own, owner, owner),
            "the per-uid cap holds for the owner too"
        );
    }
}
