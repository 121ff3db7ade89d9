//! The credit page: a page of memory shared by the two ends of a named-pipe
//! connection, holding how many bytes each end has consumed and a flag per
//! end saying its writer waits for credits.
//!
//! Credits are a *latest value*, not a queue, so shared memory fits them:
//! a reader publishes its consumed count with one atomic store. A writer
//! blocked on its quota or in a flush raises its flag and waits on the
//! connection's socket (beside its cancellation event, so that it can be
//! woken at once); a reader that finds the flag raised clears it and rings
//! the writer with a `Consumed` frame. Nothing can clog, and every wait is
//! on a descriptor (`crate::pipe::transport::unix`).
//!
//! The client creates the page (`memfd_create`), seals it against
//! shrinking and growing, and sends the descriptor with its hello; the
//! server refuses a page without those seals — a page the peer could
//! shrink would let it crash us with `SIGBUS`. Neither end trusts what the
//! other writes there: consumed counts are capped by what was sent.
//!
//! # Pages are used again
//!
//! Making a page (`memfd_create`, `ftruncate`, the seals, `mmap`) and
//! tearing it down (`munmap`, the last `close` freeing the memfd's inode)
//! was about a fifth of a pinned CallNamedPipe. So a client keeps the
//! pages of its closed connections, a few at a time ([`FREE_PAGES`]), and
//! uses one again for its next connection to the **same server process**
//! once that server's end has marked it released: the server end stores
//! `released` on the page when it is dropped, after its last store there.
//!
//! Why only the same process (the listening socket's, by the pid and uid
//! the kernel gives with `SO_PEERCRED`): a server could keep the page
//! mapped after marking it released, or pass it on. Offered again to that
//! process only, such a page can disturb only connections to that same
//! process — never one between this client and another server, which is
//! what a page per connection is for. (A server process that exits and
//! whose pid another process of the *same uid* takes could have left the
//! page with a third process of that uid; processes of one uid are not
//! protected from each other on Linux anyway.) A page whose descriptor
//! went to another process (a hand-off, `CreateProcess` inheritance) is
//! neither released nor used again: more than two ends may use it. A
//! forked child never takes its parent's pages. (The process serving an
//! instance may be another process of the name, `crate::pipe::elsewhere`:
//! of the owner's uid, S21, so the same argument holds.)
//!
//! The server side keeps its mappings of recent clients' pages
//! ([`MAPPED_PAGES`]), keyed by the client's pid and uid (the kernel's)
//! and the page's inode: a page a client brings back is not mapped again
//! ([`CreditPage::open_from`]). The descriptor in the hello proves the
//! client holds that very file, and the kept mapping keeps the inode from
//! being reused for another.
#![allow(unsafe_code)]

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pipeslot_proto::credit_page::{self, PAGE_LEN};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// The page's layout (pipeslot-proto `credit_page`): a cache line per
/// end. Index 0 belongs to the client end, 1 to the server.
#[repr(C)]
struct Page {
    lines: [Line; 2],
    /// How many instances the pipe name has, as the server last published.
    instances: AtomicU32,
    /// Non-zero once the server end is done with the page.
    released: AtomicU32,
}

impl Page {
    /// Zeroes every field: the page as a fresh memfd holds it.
    fn reset(&self) {
        for line in &self.lines {
            line.consumed.store(0, Ordering::Relaxed);
            line.peer_waiting.store(0, Ordering::Relaxed);
            line.reading.store(0, Ordering::Relaxed);
            line.sent.store(0, Ordering::Relaxed);
        }
        self.instances.store(0, Ordering::Relaxed);
        // Last, and ordered after the rest: the page goes to the server
        // with the hello, a system call later.
        self.released.store(0, Ordering::SeqCst);
    }
}

/// The fields one end writes, and the flag of the writer waiting for them.
#[repr(C, align(64))]
struct Line {
    /// Bytes this end has consumed (read or discarded).
    consumed: AtomicU64,
    /// Non-zero while the *other* end's writer waits for credits.
    peer_waiting: AtomicU32,
    /// Bytes a read waiting at this end asks for (S77), 0 when none.
    reading: AtomicU32,
    /// Bytes this end has sent, with `SENT_PUBLISHED` set; 0 when never
    /// published.
    sent: AtomicU64,
}

// The layout is the protocol's (pipeslot-proto `credit_page`): checked at
// compile time.
const _: () = {
    use std::mem::{offset_of, size_of};
    let line = size_of::<Line>();
    assert!(
        offset_of!(Page, lines) + offset_of!(Line, consumed) == credit_page::consumed_offset(0)
    );
    assert!(line + offset_of!(Line, consumed) == credit_page::consumed_offset(1));
    assert!(line + offset_of!(Line, peer_waiting) == credit_page::waiting_offset(0));
    assert!(offset_of!(Line, peer_waiting) == credit_page::waiting_offset(1));
    assert!(offset_of!(Line, reading) == credit_page::reading_offset(0));
    assert!(line + offset_of!(Line, reading) == credit_page::reading_offset(1));
    assert!(offset_of!(Line, sent) == credit_page::sent_offset(0));
    assert!(line + offset_of!(Line, sent) == credit_page::sent_offset(1));
    assert!(offset_of!(Page, instances) == credit_page::INSTANCES_OFFSET);
    assert!(offset_of!(Page, released) == credit_page::RELEASED_OFFSET);
    assert!(size_of::<Page>() <= PAGE_LEN);
};

/// A page's mapping and its descriptor; unmapped (and closed) when dropped.
struct Mapping {
    page: NonNull<Page>,
    fd: OwnedFd,
}

// SAFETY: the page holds only atomics, which may be used from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above; every access goes through atomic operations.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: OwnedFd) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of PAGE_LEN bytes of a sealed memfd
        // at least that long (checked by the callers), placed by the kernel;
        // nothing else in this process aliases it.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                PAGE_LEN,
                ProtFlags::READ | ProtFlags::WRITE,
                // Populated now: the page is touched at once anyway, and a
                // fault taken inside mmap is cheaper than a trap on first
                // use (two per connection otherwise, one at each end).
                MapFlags::SHARED | MapFlags::POPULATE,
                &fd,
                0,
            )?
        };
        let page = NonNull::new(ptr.cast::<Page>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::Other))?;
        Ok(Mapping { page, fd })
    }

    fn page(&self) -> &Page {
        // SAFETY: the mapping is page-aligned, PAGE_LEN bytes long (more than
        // `Page`), lives until `drop`, and `Page` is made of atomics for
        // which every bit pattern is valid — whatever the peer writes.
        unsafe { self.page.as_ref() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `new`; no reference into it
        // outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.page.as_ptr().cast(), PAGE_LEN) };
    }
}

/// The server process a client's page served, as the kernel named the
/// listening socket's owner (`SO_PEERCRED`): a page is used again only
/// with the same one (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerKey {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
}

impl From<crate::sys::stream::PeerCredentials> for ServerKey {
    fn from(server: crate::sys::stream::PeerCredentials) -> ServerKey {
        ServerKey {
            pid: server.pid,
            uid: server.uid,
        }
    }
}

/// What becomes of a page when its end is dropped.
#[derive(Clone, Copy)]
enum Fate {
    /// Unmapped: a page of a parent process, a relay's, or a test's.
    Unmap,
    /// Marked released, then unmapped: the server end of a connection.
    Release,
    /// Kept for the client's next connection to `key`, if the process that
    /// made it (`maker`) is still the one dropping it (not a forked child).
    Keep {
        key: ServerKey,
        maker: u32,
        free: &'static Mutex<Free>,
    },
}

/// A mapped credit page, and its descriptor: kept open (one descriptor per
/// connection end) so that the end can be handed to a child process, which
/// maps the same page (`crate::pipe::PipeConnection`).
pub(crate) struct CreditPage {
    /// Taken only in `drop`. Shared with the server's list of mapped pages
    /// (`open_from`) on a server end.
    mapping: ManuallyDrop<Arc<Mapping>>,
    fate: Fate,
    /// The descriptor went to another process (or another end of this
    /// one): neither released nor kept.
    shared: AtomicBool,
}

impl CreditPage {
    /// Creates a zeroed, sealed page.
    pub(crate) fn create() -> io::Result<CreditPage> {
        let fd = rustix::fs::memfd_create(
            "pipeslot-credits",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        rustix::fs::ftruncate(&fd, PAGE_LEN as u64)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        #[cfg(test)]
        tests::CREATED.with(|n| n.set(n.get() + 1));
        Ok(CreditPage::with_fate(
            Arc::new(Mapping::new(fd)?),
            Fate::Unmap,
        ))
    }

    /// A page for a client's connection to `server`: one of its earlier
    /// connections' pages that the server released (zeroed again), else a
    /// new one; kept for the next connection when dropped.
    pub(crate) fn for_server(server: ServerKey) -> io::Result<CreditPage> {
        CreditPage::for_server_in(&FREE, server)
    }

    /// [`CreditPage::for_server`] with the list `free` (the process's, or a
    /// test's own).
    fn for_server_in(free: &'static Mutex<Free>, server: ServerKey) -> io::Result<CreditPage> {
        let maker = crate::sys::process::id();
        let mapping = match take_free(free, server, maker) {
            Some(mapping) => Arc::new(mapping),
            None => ManuallyDrop::into_inner(CreditPage::create()?.into_mapping()),
        };
        Ok(CreditPage::with_fate(
            mapping,
            Fate::Keep {
                key: server,
                maker,
                free,
            },
        ))
    }

    /// Maps a page received from the peer (or a parent process), after
    /// checking that it can neither shrink nor grow and is big enough.
    pub(crate) fn open(fd: OwnedFd) -> io::Result<CreditPage> {
        let seals = rustix::fs::fcntl_get_seals(&fd)?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "credit page is not sealed",
            ));
        }
        if rustix::fs::fstat(&fd)?.st_size < PAGE_LEN as i64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "credit page too small",
            ));
        }
        Ok(CreditPage::with_fate(
            Arc::new(Mapping::new(fd)?),
            Fate::Unmap,
        ))
    }

    /// [`CreditPage::open`] for the server end of `client`'s connection,
    /// marked released when dropped: a page this process mapped for the
    /// same client before is not mapped again (one `fstat` instead of the
    /// seals' check, an `mmap` and later a `munmap`; module docs).
    pub(crate) fn open_from(fd: OwnedFd, client: ClientKey) -> io::Result<CreditPage> {
        CreditPage::open_from_in(&MAPPED, fd, client)
    }

    /// [`CreditPage::open_from`] with the list `mapped` (the process's, or
    /// a test's own).
    fn open_from_in(
        mapped: &'static Mutex<Mapped>,
        fd: OwnedFd,
        client: ClientKey,
    ) -> io::Result<CreditPage> {
        let stat = rustix::fs::fstat(&fd)?;
        let file = (stat.st_dev, stat.st_ino);
        let mapping = match find_mapped(mapped, client, file) {
            Some(mapping) => mapping,
            None => {
                let mapping = ManuallyDrop::into_inner(CreditPage::open(fd)?.into_mapping());
                keep_mapped(mapped, client, file, &mapping);
                mapping
            }
        };
        Ok(CreditPage::with_fate(mapping, Fate::Release))
    }

    /// The server end of a connection: the page is marked released when
    /// this end is dropped (the client may then use it again).
    pub(crate) fn released_when_dropped(mut self) -> CreditPage {
        self.fate = Fate::Release;
        self
    }

    /// The page's descriptor goes elsewhere (a hand-off): from now on it is
    /// neither released nor kept.
    pub(crate) fn share(&self) {
        self.shared.store(true, Ordering::SeqCst);
    }

    fn with_fate(mapping: Arc<Mapping>, fate: Fate) -> CreditPage {
        CreditPage {
            mapping: ManuallyDrop::new(mapping),
            fate,
            shared: AtomicBool::new(false),
        }
    }

    /// The mapping, for a page that will not be dropped as a `CreditPage`.
    fn into_mapping(self) -> ManuallyDrop<Arc<Mapping>> {
        let mut page = ManuallyDrop::new(self);
        // SAFETY: `page` is never dropped, so its mapping is taken once.
        ManuallyDrop::new(unsafe { ManuallyDrop::take(&mut page.mapping) })
    }

    /// The page's descriptor (to send to the peer, or to a child).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.mapping.fd.as_fd()
    }

    fn page(&self) -> &Page {
        self.mapping.page()
    }

    /// Publishes that end `me` has consumed `total` bytes. Returns whether
    /// the peer's writer was waiting for credits (its flag is cleared): the
    /// caller then rings it.
    ///
    /// The page keeps the largest count published, so that two threads of
    /// this end publishing at once cannot move it back.
    pub(crate) fn publish_consumed(&self, me: usize, total: u64) -> bool {
        let line = &self.page().lines[me];
        line.consumed.fetch_max(total, Ordering::SeqCst);
        line.peer_waiting.load(Ordering::SeqCst) != 0
            && line.peer_waiting.swap(0, Ordering::SeqCst) != 0
    }

    /// What the peer of end `me` says it has consumed (untrusted: the
    /// caller checks it against what it sent).
    pub(crate) fn peer_consumed(&self, me: usize) -> u64 {
        self.page().lines[1 - me].consumed.load(Ordering::SeqCst)
    }

    /// Raises end `me`'s flag: its writer is about to wait for credits. The
    /// caller looks at [`CreditPage::peer_consumed`] again afterwards, so a
    /// count published in between is not missed (both sides use `SeqCst`).
    pub(crate) fn want_credits(&self, me: usize) {
        // The flag lives in the line of the end whose consumption it waits
        // for, which finds it there when it publishes.
        self.page().lines[1 - me]
            .peer_waiting
            .store(1, Ordering::SeqCst);
    }

    /// Publishes how many bytes a read waiting at end `me` asks for (0:
    /// none waits).
    ///
    /// A plain store: the figure only informs the peer's PIPE_NOWAIT
    /// writes (S77), which take it as a hint at one moment, so no ordering
    /// with the other fields is needed — and a store that does not wait
    /// for the line shared with the peer keeps it off every read's path.
    pub(crate) fn publish_reading(&self, me: usize, bytes: u32) {
        self.page().lines[me]
            .reading
            .store(bytes, Ordering::Relaxed);
    }

    /// How many bytes a read waiting at the peer of end `me` asks for
    /// (untrusted: the caller caps it).
    pub(crate) fn peer_reading(&self, me: usize) -> u32 {
        self.page().lines[1 - me].reading.load(Ordering::Relaxed)
    }

    /// Publishes that end `me` has sent `total` payload bytes, before they
    /// go out; `None` withdraws the count.
    pub(crate) fn publish_sent(&self, me: usize, total: Option<u64>) {
        let value = total.map_or(0, |total| total | credit_page::SENT_PUBLISHED);
        self.page().lines[me].sent.store(value, Ordering::SeqCst);
    }

    /// What the peer of end `me` says it has sent (untrusted: a wrong
    /// count only makes this end's unread-data check receive when it need
    /// not, or skip a receive that would have found the liar's own bytes);
    /// `None` if it never said.
    pub(crate) fn peer_sent(&self, me: usize) -> Option<u64> {
        let sent = self.page().lines[1 - me].sent.load(Ordering::SeqCst);
        (sent & credit_page::SENT_PUBLISHED != 0).then_some(sent & !credit_page::SENT_PUBLISHED)
    }

    /// Publishes the name's instance count (server end).
    pub(crate) fn publish_instances(&self, count: u32) {
        self.page().instances.store(count, Ordering::SeqCst);
    }

    /// The name's instance count, as the server last published it.
    pub(crate) fn instances(&self) -> u32 {
        self.page().instances.load(Ordering::SeqCst)
    }
}

impl Drop for CreditPage {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self.mapping` is not used again.
        let mapping = unsafe { ManuallyDrop::take(&mut self.mapping) };
        if self.shared.load(Ordering::SeqCst) {
            return;
        }
        match self.fate {
            Fate::Unmap => {}
            // After every store of this end (it is being dropped).
            Fate::Release => mapping.page().released.store(1, Ordering::SeqCst),
            // A client's page is its own (`Arc::into_inner` fails only for
            // a test that mapped one page as both ends).
            Fate::Keep { key, maker, free } => {
                if let Some(mapping) = Arc::into_inner(mapping) {
                    keep_free(free, key, maker, mapping);
                }
            }
        }
    }
}

/// A list of this process's, oldest entry first, at most `N` long: what
/// is pushed beyond that pushes the oldest out. A forked child finds its
/// parent's entries here, and drops them (they are the parent's).
struct Kept<T, const N: usize> {
    owner: u32,
    items: Vec<T>,
}

impl<T, const N: usize> Kept<T, N> {
    const fn new() -> Self {
        Kept {
            owner: 0,
            items: Vec::new(),
        }
    }

    /// The list, if taken within a few tries: never waited for, because a
    /// child forked while another thread held it would wait forever (the
    /// lists are held for a few instructions; a busy one only costs a new
    /// page or mapping).
    fn get(list: &'static Mutex<Self>) -> Option<std::sync::MutexGuard<'static, Self>> {
        let mut kept = (0..100).find_map(|_| match list.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                std::hint::spin_loop();
                None
            }
        })?;
        let me = crate::sys::process::id();
        if kept.owner != me {
            kept.items.clear();
            kept.owner = me;
        }
        Some(kept)
    }

    /// Adds `item` as the newest; returns the oldest if it had to go (for
    /// the caller to drop once the list is let go).
    fn push(&mut self, item: T) -> Option<T> {
        let oldest = (self.items.len() == N).then(|| self.items.remove(0));
        self.items.push(item);
        oldest
    }
}

/// How many pages a process keeps for its next connections.
pub(crate) const FREE_PAGES: usize = 8;

/// A client's pages kept for its next connections, with the server each
/// served.
type Free = Kept<(ServerKey, Mapping), FREE_PAGES>;

static FREE: Mutex<Free> = Mutex::new(Free::new());

/// A page kept for `server` that its server end released, zeroed.
fn take_free(list: &'static Mutex<Free>, server: ServerKey, maker: u32) -> Option<Mapping> {
    let mut free = Free::get(list)?;
    if free.owner != maker {
        return None;
    }
    let at = free.items.iter().position(|(key, mapping)| {
        *key == server && mapping.page().released.load(Ordering::SeqCst) != 0
    })?;
    let (_, mapping) = free.items.remove(at);
    drop(free);
    mapping.page().reset();
    Some(mapping)
}

/// Keeps a client's page for its next connection to `server` (the oldest
/// kept goes if there are [`FREE_PAGES`] already).
fn keep_free(list: &'static Mutex<Free>, server: ServerKey, maker: u32, mapping: Mapping) {
    let Some(mut free) = Free::get(list) else {
        return;
    };
    if free.owner != maker {
        return;
    }
    let oldest = free.push((server, mapping));
    drop(free);
    drop(oldest); // unmapped without the list held
}

/// The client of a server end, as the kernel named it (`SO_PEERCRED`): a
/// page mapped for one client is never used for another's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientKey {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
}

impl From<crate::sys::stream::PeerCredentials> for ClientKey {
    fn from(client: crate::sys::stream::PeerCredentials) -> ClientKey {
        ClientKey {
            pid: client.pid,
            uid: client.uid,
        }
    }
}

/// How many clients' pages a server process keeps mapped.
pub(crate) const MAPPED_PAGES: usize = 16;

/// The pages a server process mapped for its clients (by client and
/// file), most recent last: a client's page comes back with its next
/// connection (the client uses it again), and is then not mapped again. A
/// page stays mapped until [`MAPPED_PAGES`] newer ones push it out — its
/// memory is the client's (a memfd), so a client can make a server hold at
/// most that many pages of its own.
type Mapped = Kept<(ClientKey, (u64, u64), Arc<Mapping>), MAPPED_PAGES>;

static MAPPED: Mutex<Mapped> = Mutex::new(Mapped::new());

/// The mapping of `file` made for `client`, if kept (it becomes the most
/// recent).
fn find_mapped(
    list: &'static Mutex<Mapped>,
    client: ClientKey,
    file: (u64, u64),
) -> Option<Arc<Mapping>> {
    let mut mapped = Mapped::get(list)?;
    let at = mapped
        .items
        .iter()
        .position(|(c, f, _)| *c == client && *f == file)?;
    let entry = mapped.items.remove(at);
    let mapping = Arc::clone(&entry.2);
    mapped.items.push(entry);
    Some(mapping)
}

/// Keeps the mapping of `file` made for `client`.
fn keep_mapped(
    list: &'static Mutex<Mapped>,
    client: ClientKey,
    file: (u64, u64),
    mapping: &Arc<Mapping>,
) {
    let Some(mut mapped) = Mapped::get(list) else {
        return;
    };
    let oldest = mapped.push((client, file, Arc::clone(mapping)));
    drop(mapped);
    drop(oldest); // unmapped (if no end uses it) without the list held
}

impl std::fmt::Debug for CreditPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditPage").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// Pages this thread made (`CreditPage::create`).
        pub(super) static CREATED: Cell<u64> = const { Cell::new(0) };
    }

    fn created() -> u64 {
        CREATED.with(Cell::get)
    }

    fn inode(page: &CreditPage) -> u64 {
        rustix::fs::fstat(page.fd()).unwrap().st_ino
    }

    fn key(n: u32) -> ServerKey {
        ServerKey {
            pid: u32::MAX - n,
            uid: 4242,
        }
    }

    /// A list of kept pages of the test's own (the process's is shared by
    /// every test of this binary, which run in parallel).
    fn own_list() -> &'static Mutex<Free> {
        Box::leak(Box::new(Mutex::new(Free::new())))
    }

    #[test]
    fn a_page_is_used_again_once_its_server_released_it() {
        let list = own_list();
        let server = key(1);
        let client = CreditPage::for_server_in(list, server).unwrap();
        let ino = inode(&client);
        let dup = client.fd().try_clone_to_owned().unwrap();
        let server_end = CreditPage::open(dup).unwrap().released_when_dropped();
        client.publish_consumed(0, 77);
        server_end.publish_consumed(1, 99);
        server_end.publish_instances(3);
        server_end.publish_sent(1, Some(5));
        server_end.want_credits(1);
        drop(client);

        // Its server end still uses it: a new page.
        let before = created();
        let second = CreditPage::for_server_in(list, server).unwrap();
        assert_eq!(created(), before + 1);
        assert_ne!(inode(&second), ino);

        // Released: the same page, zeroed as a new one.
        drop(server_end);
        let third = CreditPage::for_server_in(list, server).unwrap();
        assert_eq!(created(), before + 1, "no new page");
        assert_eq!(inode(&third), ino);
        assert_eq!(third.peer_consumed(0), 0);
        assert_eq!(third.peer_consumed(1), 0);
        assert_eq!(third.instances(), 0);
        assert_eq!(third.peer_sent(0), None);
        assert!(!third.publish_consumed(0, 1), "no writer waits");
        drop(second);
    }

    #[test]
    fn a_page_goes_only_to_the_server_process_it_served() {
        let list = own_list();
        let client = CreditPage::for_server_in(list, key(2)).unwrap();
        let ino = inode(&client);
        let server_end = CreditPage::open(client.fd().try_clone_to_owned().unwrap())
            .unwrap()
            .released_when_dropped();
        drop(server_end);
        drop(client);
        let other = CreditPage::for_server_in(list, key(3)).unwrap();
        assert_ne!(inode(&other), ino);
        let same = CreditPage::for_server_in(list, key(2)).unwrap();
        assert_eq!(inode(&same), ino);
    }

    #[test]
    fn a_shared_page_is_neither_released_nor_kept() {
        let list = own_list();
        // A client end handed to a child: not kept.
        let client = CreditPage::for_server_in(list, key(4)).unwrap();
        let ino = inode(&client);
        let server_end = CreditPage::open(client.fd().try_clone_to_owned().unwrap())
            .unwrap()
            .released_when_dropped();
        client.share();
        drop(client);
        drop(server_end);
        assert_ne!(
            inode(&CreditPage::for_server_in(list, key(4)).unwrap()),
            ino
        );

        // A server end handed to a child: never marked released.
        let client = CreditPage::for_server_in(list, key(5)).unwrap();
        let ino = inode(&client);
        let server_end = CreditPage::open(client.fd().try_clone_to_owned().unwrap())
            .unwrap()
            .released_when_dropped();
        server_end.share();
        drop(server_end);
        drop(client);
        assert_ne!(
            inode(&CreditPage::for_server_in(list, key(5)).unwrap()),
            ino
        );
    }

    #[test]
    fn a_page_made_by_another_process_is_not_kept() {
        let list = own_list();
        // What a forked child dropping its parent's client end does.
        let mapping = ManuallyDrop::into_inner(CreditPage::create().unwrap().into_mapping());
        let ino = rustix::fs::fstat(&mapping.fd).unwrap().st_ino;
        let page = CreditPage::with_fate(
            mapping,
            Fate::Keep {
                key: key(6),
                maker: crate::sys::process::id().wrapping_add(1),
                free: list,
            },
        );
        let server_end = CreditPage::open(page.fd().try_clone_to_owned().unwrap())
            .unwrap()
            .released_when_dropped();
        drop(server_end);
        drop(page);
        assert_ne!(
            inode(&CreditPage::for_server_in(list, key(6)).unwrap()),
            ino
        );
    }

    #[test]
    fn a_server_maps_a_clients_page_once() {
        let list = own_list();
        let mapped: &'static Mutex<Mapped> = Box::leak(Box::new(Mutex::new(Mapped::new())));
        let client = CreditPage::for_server_in(list, key(8)).unwrap();
        let dup = || client.fd().try_clone_to_owned().unwrap();
        let me = ClientKey {
            pid: u32::MAX - 8,
            uid: 4242,
        };
        let first = CreditPage::open_from_in(mapped, dup(), me).unwrap();
        let address = first.page() as *const Page;
        first.publish_consumed(1, 5);
        // Released; the same client brings the same page back: the same
        // mapping, with fresh counts once the client took it again.
        drop(first);
        drop(client);
        let client = CreditPage::for_server_in(list, key(8)).unwrap();
        let again = CreditPage::open_from_in(mapped, client.fd().try_clone_to_owned().unwrap(), me)
            .unwrap();
        assert_eq!(again.page() as *const Page, address);
        assert_eq!(again.peer_consumed(0), 0);
        assert_eq!(client.peer_consumed(0), 0, "reset by the client");
        // Another client presenting the same page: mapped on its own.
        let other = ClientKey {
            pid: u32::MAX - 9,
            uid: 4242,
        };
        let theirs =
            CreditPage::open_from_in(mapped, client.fd().try_clone_to_owned().unwrap(), other)
                .unwrap();
        assert_ne!(theirs.page() as *const Page, address);
        // A page that is not sealed is refused as by `open`.
        let raw = rustix::fs::memfd_create("unsealed", MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&raw, PAGE_LEN as u64).unwrap();
        assert!(CreditPage::open_from_in(mapped, raw, me).is_err());
    }

    /// A client presenting page after page makes the server keep at most
    /// MAPPED_PAGES mappings of them.
    #[test]
    fn at_most_mapped_pages_are_kept() {
        let mapped: &'static Mutex<Mapped> = Box::leak(Box::new(Mutex::new(Mapped::new())));
        let me = ClientKey {
            pid: u32::MAX - 10,
            uid: 4242,
        };
        for _ in 0..MAPPED_PAGES + 5 {
            let page = CreditPage::create().unwrap();
            let fd = page.fd().try_clone_to_owned().unwrap();
            drop(CreditPage::open_from_in(mapped, fd, me).unwrap());
        }
        assert_eq!(mapped.lock().unwrap().items.len(), MAPPED_PAGES);
    }

    #[test]
    fn at_most_free_pages_are_kept() {
        let list = own_list();
        let server = key(7);
        let mut pages = Vec::new();
        for _ in 0..FREE_PAGES + 3 {
            let client = CreditPage::for_server_in(list, server).unwrap();
            let server_end = CreditPage::open(client.fd().try_clone_to_owned().unwrap())
                .unwrap()
                .released_when_dropped();
            pages.push((client, server_end));
        }
        let inodes: Vec<u64> = pages.iter().map(|(client, _)| inode(client)).collect();
        drop(pages); // all kept in turn, all released
        assert_eq!(list.lock().unwrap().items.len(), FREE_PAGES);
        // The newest are kept: the oldest three went.
        for expected in &inodes[3..] {
            let again = CreditPage::for_server_in(list, server).unwrap();
            assert_eq!(inode(&again), *expected);
            std::mem::forget(again); // not kept again
        }
        let before = created();
        drop(CreditPage::for_server_in(list, server).unwrap());
        assert_eq!(created(), before + 1, "none left");
    }
}
