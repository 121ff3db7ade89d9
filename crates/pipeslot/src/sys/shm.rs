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
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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
    assert!(size_of::<Page>() <= PAGE_LEN);
};

/// A mapped credit page, and its descriptor: kept open (one descriptor per
/// connection end) so that the end can be handed to a child process, which
/// maps the same page (`crate::pipe::PipeConnection`).
pub(crate) struct CreditPage {
    page: NonNull<Page>,
    fd: OwnedFd,
}

// SAFETY: the page holds only atomics, which may be used from any thread.
unsafe impl Send for CreditPage {}
// SAFETY: as above; every access goes through atomic operations.
unsafe impl Sync for CreditPage {}

impl CreditPage {
    /// Creates a zeroed, sealed page.
    pub(crate) fn create() -> io::Result<CreditPage> {
        let fd = rustix::fs::memfd_create(
            "pipeslot-credits",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        rustix::fs::ftruncate(&fd, PAGE_LEN as u64)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        CreditPage::map(fd)
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
        CreditPage::map(fd)
    }

    fn map(fd: OwnedFd) -> io::Result<CreditPage> {
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
        Ok(CreditPage { page, fd })
    }

    /// The page's descriptor (to send to the peer, or to a child).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn page(&self) -> &Page {
        // SAFETY: the mapping is page-aligned, PAGE_LEN bytes long (more than
        // `Page`), lives until `drop`, and `Page` is made of atomics for
        // which every bit pattern is valid — whatever the peer writes.
        unsafe { self.page.as_ref() }
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
        // SAFETY: unmapping the mapping made in `map`; no reference into it
        // outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.page.as_ptr().cast(), PAGE_LEN) };
    }
}

impl std::fmt::Debug for CreditPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditPage").finish_non_exhaustive()
    }
}
