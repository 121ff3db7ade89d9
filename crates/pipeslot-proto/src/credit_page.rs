//! The credit page: the layout of the page of shared memory the two ends
//! of a local named-pipe connection map (a sealed memfd the client sends
//! with its hello).
//!
//! All fields are little-endian on the machines pipeslot runs on (both
//! ends are on one host) and are read and written with atomic operations
//! at these offsets. Index 0 of a pair belongs to the client end, 1 to the
//! server end.
//!
//! ```text
//! offset  size  field
//! 0       8     consumed[0]   bytes the client has consumed (read or discarded)
//! 8       4     waiting[1]    non-zero: the server's writer waits for credits
//! 12      4     reading[0]    bytes a read waiting at the client asks for (S77)
//! 16      8     sent[0]       bytes the client has sent, with bit 63 set (0: not told)
//! 24..64        zero, reserved
//! 64      8     consumed[1]   bytes the server has consumed
//! 72      4     waiting[0]    non-zero: the client's writer waits for credits
//! 76      4     reading[1]    bytes a read waiting at the server asks for
//! 80      8     sent[1]       bytes the server has sent, with bit 63 set
//! 88..128       zero, reserved
//! 128     4     instances     the name's instance count, as the server published it
//! 132     4     released      non-zero once the server end is done with the page
//! 136..4096     zero, reserved
//! ```
//!
//! Each end's fields sit in a cache line of their own (64 bytes), with the
//! flag its peer raises to be told of that end's consumption: a reader
//! publishes its count and looks for a waiting writer without touching the
//! line the other end writes, so the two ends do not pull one line back
//! and forth on every message.
//!
//! `reading` lets a PIPE_NOWAIT writer count the peer's pending read as
//! room (S77); a peer that never writes it (0) leaves the quota alone.
//!
//! `sent` is stored before the bytes it counts go out, so a reader that
//! has received that many knows nothing more is on its way without asking
//! its socket (TransactNamedPipe's unread-data check, S111). A peer that
//! does not publish it (0: a gateway's relay leg) is always asked.
//!
//! `released` is stored by the server end when it is dropped, after its
//! last store to the page: the client may then zero the page and send it
//! with its next hello to the same server process instead of making a new
//! one. A server that never stores it only costs its clients new pages.
//!
//! Nothing on the page is trusted: a consumed count beyond what was sent
//! is the peer's protocol violation (threat T12), a raised `waiting` flag
//! costs at most one `Consumed` frame, and a wrong instance count is only
//! reported back to the application.
//!
//! ```
//! use pipeslot_proto::credit_page::{consumed_offset, waiting_offset, PAGE_LEN};
//!
//! assert_eq!((consumed_offset(0), consumed_offset(1)), (0, 64));
//! // The server's writer waits on the client's line, and the other way round.
//! assert_eq!((waiting_offset(0), waiting_offset(1)), (72, 8));
//! assert!(PAGE_LEN >= 136);
//! ```

/// The page's length: one page; a page shorter than this is refused.
pub const PAGE_LEN: usize = 4096;

/// The offset of the `instances` field.
pub const INSTANCES_OFFSET: usize = 128;

/// The offset of the `released` field.
pub const RELEASED_OFFSET: usize = 132;

/// The bytes of each end's cache line.
const LINE: usize = 64;

/// The offset of end `end`'s consumed count (0 client, 1 server).
pub const fn consumed_offset(end: usize) -> usize {
    LINE * end
}

/// The offset of end `end`'s pending-read size (0 client, 1 server).
pub const fn reading_offset(end: usize) -> usize {
    LINE * end + 12
}

/// The offset of end `end`'s sent count (bit 63 set once published).
pub const fn sent_offset(end: usize) -> usize {
    LINE * end + 16
}

/// The bit set in a published sent count: 0 means "not published".
pub const SENT_PUBLISHED: u64 = 1 << 63;

/// The offset of end `end`'s waiting flag (0 client, 1 server): in the
/// line of the other end, whose consumption it waits for.
pub const fn waiting_offset(end: usize) -> usize {
    LINE * (1 - end) + 8
}
