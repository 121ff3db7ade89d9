//! What a process hands a child so that the child can go on using its
//! handles: the *handoff manifest* of `CreateProcessA` with
//! `bInheritHandles` (S19, S133).
//!
//! A Win32 handle to a pipe connection or a mailslot is more than one
//! descriptor: a connection also has its credit page and whatever the
//! parent already received but nobody read; a mailslot has its name claim
//! and the messages already taken from the kernel. The parent writes one
//! [`Manifest`] listing every inheritable handle — its value, the
//! descriptors the child inherits, and the state of the object — and the
//! child rebuilds its handle table from it, under the same handle values.
//!
//! # Byte format
//!
//! Integers are little-endian. A *string* is a `u32` byte length then UTF-8
//! without NUL; *bytes* are a `u32` length then the bytes.
//!
//! ```text
//! size  field
//! 4     magic "PSHO"
//! 2     version u16, 1
//! 3×9   standard handles: u8 present (0/1), u64 handle value (0 if absent)
//! 4     entry count u32
//! ...   entries
//! ```
//!
//! An entry is a `u64` handle value, a `u8` descriptor count (at most
//! [`MAX_FDS`]) and that many `i32` descriptors (each ≥ 0), then a `u8`
//! kind tag and the kind's fields:
//!
//! ```text
//! tag  kind             fields
//! 1    AnonReader       u8 nowait, u32 size
//! 2    AnonWriter       u8 nowait, u32 size
//! 3    File             u8 access (bit 0 read, bit 1 write)
//! 4    PipeEnd          see PipeEndState
//! 5    Mailslot         see MailslotState
//! 6    MailslotWriter   string name, u32 limit, u8 broadcast
//! ```
//!
//! Booleans are 0 or 1; anything else is refused, as are trailing bytes, so
//! the encoding is canonical. The manifest comes from the parent process,
//! which the child already trusts with its whole environment, but the
//! decoder is still strict and never panics (it is fuzzed).

use std::fmt;

/// The first bytes of every manifest.
pub const MAGIC: [u8; 4] = *b"PSHO";
/// The layout this module reads and writes.
pub const VERSION: u16 = 1;
/// The most descriptors one entry may carry.
pub const MAX_FDS: usize = 4;

/// Everything a child inherits.
///
/// ```
/// use pipeslot_proto::handoff::{Entry, Manifest, ObjectState};
///
/// // The child's stdin is handle 0x10, the read end of an anonymous pipe on fd 3.
/// let object = ObjectState::AnonReader { nowait: false, size: 4096 };
/// let manifest = Manifest {
///     std_handles: [Some(0x10), None, None],
///     entries: vec![Entry { handle: 0x10, fds: vec![3], object }],
/// };
/// assert_eq!(Manifest::decode(&manifest.encode()), Ok(manifest));
/// assert_eq!(Manifest::default().encode().len(), 4 + 2 + 3 * 9 + 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `hStdInput`, `hStdOutput` and `hStdError` when they are handles of
    /// this manifest that a child's `GetStdHandle` must return (a pipe or
    /// mailslot handle, which descriptors 0-2 cannot stand for).
    pub std_handles: [Option<u64>; 3],
    /// One entry per inherited handle.
    pub entries: Vec<Entry>,
}

/// One inherited handle.
///
/// ```
/// use pipeslot_proto::handoff::{Entry, Manifest, ObjectState};
///
/// let object = ObjectState::File { read: true, write: true };
/// let file = Entry { handle: 0x24, fds: vec![5], object };
/// let manifest = Manifest { std_handles: [None; 3], entries: vec![file] };
/// let bytes = manifest.encode();
/// // handle u64, one fd (u8 count, i32), tag 3 (File), access bits 0b11
/// assert_eq!(&bytes[37..], [0x24, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 3, 0b11]);
/// assert_eq!(Manifest::decode(&bytes).unwrap().entries[0].fds, [5]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The handle's value, the same in parent and child.
    pub handle: u64,
    /// The descriptors, open in the child under these numbers.
    pub fds: Vec<i32>,
    /// What the handle is, and its state.
    pub object: ObjectState,
}

/// The kinds of handle a child can inherit.
///
/// ```
/// use pipeslot_proto::handoff::{Entry, Manifest, ObjectState};
///
/// let name = r"\\*\mailslot\m".to_string();
/// let object = ObjectState::MailslotWriter { name, limit: 424, broadcast: true };
/// let entries = vec![Entry { handle: 0x30, fds: vec![6], object: object.clone() }];
/// let bytes = Manifest { std_handles: [None; 3], entries }.encode();
/// assert_eq!(Manifest::decode(&bytes).unwrap().entries[0].object, object);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectState {
    /// An anonymous pipe's read end; fds: the pipe.
    AnonReader {
        /// PIPE_NOWAIT was set (S138).
        nowait: bool,
        /// The size given to CreatePipe, as GetNamedPipeInfo reports it.
        size: u32,
    },
    /// An anonymous pipe's write end; fds: the pipe.
    AnonWriter {
        /// PIPE_NOWAIT was set (S138).
        nowait: bool,
        /// The size given to CreatePipe, as GetNamedPipeInfo reports it.
        size: u32,
    },
    /// An ordinary file; fds: the file.
    File {
        /// GENERIC_READ was granted.
        read: bool,
        /// GENERIC_WRITE was granted.
        write: bool,
    },
    /// A connected named-pipe end; fds: the data socket, the credit page.
    PipeEnd(PipeEndState),
    /// A named-pipe instance with no client (listening, or disconnected
    /// and not yet listening again); fds: its connection to the name's
    /// owner (`pipeslot_proto::instance`). The child serves it from then
    /// on; the parent's handle no longer does.
    Instance(InstanceState),
    /// A mailslot's reading end; fds: the socket, the name's lock file.
    Mailslot(MailslotState),
    /// A mailslot's writing end; fds: the socket.
    MailslotWriter {
        /// The name as opened.
        name: String,
        /// The largest message the writer may send.
        limit: u32,
        /// Opened through `*` (S141).
        broadcast: bool,
    },
}

/// A named-pipe instance with no client, handed to a child.
///
/// ```text
/// string name, u8 flags (bit 0 message type, 1 message read mode, 2
/// nowait, 3 inbound, 4 outbound, 5 listening), u32 in buffer size, u32
/// out buffer size, u32 max instances, u32 default timeout (ms)
/// ```
///
/// ```
/// use pipeslot_proto::handoff::{Entry, InstanceState, Manifest, ObjectState};
///
/// let state = InstanceState {
///     name: r"\\.\pipe\p".into(), message_type: true, message_read: true, nowait: false,
///     inbound: true, outbound: true, listening: true, in_buffer_size: 512,
///     out_buffer_size: 512, max_instances: 255, default_timeout_ms: 50,
/// };
/// let object = ObjectState::Instance(state);
/// let entries = vec![Entry { handle: 0x40, fds: vec![7], object: object.clone() }];
/// let bytes = Manifest { std_handles: [None; 3], entries }.encode();
/// assert_eq!(Manifest::decode(&bytes).unwrap().entries[0].object, object);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceState {
    /// The pipe's name as the instance was created.
    pub name: String,
    /// PIPE_TYPE_MESSAGE (otherwise PIPE_TYPE_BYTE).
    pub message_type: bool,
    /// PIPE_READMODE_MESSAGE.
    pub message_read: bool,
    /// PIPE_NOWAIT.
    pub nowait: bool,
    /// PIPE_ACCESS_INBOUND (the server reads).
    pub inbound: bool,
    /// PIPE_ACCESS_OUTBOUND (the server writes).
    pub outbound: bool,
    /// Listening (otherwise disconnected, listening again at its next
    /// ConnectNamedPipe).
    pub listening: bool,
    /// `nInBufferSize`.
    pub in_buffer_size: u32,
    /// `nOutBufferSize`.
    pub out_buffer_size: u32,
    /// `nMaxInstances`.
    pub max_instances: u32,
    /// `nDefaultTimeOut`, in milliseconds.
    pub default_timeout_ms: u32,
}

/// A connected named-pipe end (client or server).
///
/// ```text
/// string name, u8 flags (bit 0 server end, 1 message type, 2 message read
/// mode, 3 nowait, 4 can read, 5 can write, 6 can set state), u32 in buffer size, u32 out
/// buffer size, u32 max instances, u32 out quota, u32 own pid, u32 peer pid,
/// u32 peer uid, u32 peer gid, string peer computer name, then the
/// ConnectionState
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeEndState {
    /// The pipe's name as the end opened or created it.
    pub name: String,
    /// The server end of the connection (otherwise the client end).
    pub server_end: bool,
    /// PIPE_TYPE_MESSAGE (otherwise PIPE_TYPE_BYTE).
    pub message_type: bool,
    /// PIPE_READMODE_MESSAGE (otherwise PIPE_READMODE_BYTE).
    pub message_read: bool,
    /// PIPE_NOWAIT.
    pub nowait: bool,
    /// The end may read.
    pub can_read: bool,
    /// The end may write.
    pub can_write: bool,
    /// The end may change its handle state (S102: a client opened with
    /// GENERIC_WRITE or FILE_WRITE_ATTRIBUTES, an outbound server).
    pub can_set_state: bool,
    /// GetNamedPipeInfo's input buffer size.
    pub in_buffer_size: u32,
    /// GetNamedPipeInfo's output buffer size.
    pub out_buffer_size: u32,
    /// GetNamedPipeInfo's maximum instances.
    pub max_instances: u32,
    /// The quota of what this end writes.
    pub out_quota: u32,
    /// The process id this end reports as its own (the one that opened or
    /// created it).
    pub own_pid: u32,
    /// The peer's process id.
    pub peer_pid: u32,
    /// The peer's user id.
    pub peer_uid: u32,
    /// The peer's group id.
    pub peer_gid: u32,
    /// The peer's computer name.
    pub peer_computer_name: String,
    /// The data path.
    pub connection: ConnectionState,
}

/// Where a connection's data path stands.
///
/// ```text
/// u8 end (1 open, 2 peer closed, 3 disconnected), u64 consumed,
/// u64 received, u64 sent, u64 peer consumed, u32 pending count and that
/// many (u64 start, u64 end), u32 chunk count and that many (u64 offset,
/// u8 end of message, bytes data), bytes undecoded
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionState {
    /// The end state.
    pub end: EndState,
    /// Payload bytes this end consumed.
    pub consumed: u64,
    /// Payload bytes this end received.
    pub received: u64,
    /// Payload bytes this end sent.
    pub sent: u64,
    /// What the peer had consumed, as last seen.
    pub peer_consumed: u64,
    /// The peer's writes announced pending and not yet committed.
    pub pending: Vec<(u64, u64)>,
    /// Received, unread data.
    pub inbound: Vec<Chunk>,
    /// Bytes received from the socket and not yet decoded into frames.
    pub undecoded: Vec<u8>,
}

/// Unread received data.
///
/// ```
/// # use pipeslot_proto::handoff::{ConnectionState, Entry, Manifest, ObjectState, PipeEndState};
/// # fn pipe_end(connection: ConnectionState) -> Manifest {
/// #     let state = PipeEndState {
/// #         name: r"\\.\pipe\p".into(), server_end: true, message_type: true, message_read: true,
/// #         nowait: false, can_read: true, can_write: true, can_set_state: true,
/// #         in_buffer_size: 4096, out_buffer_size: 4096, max_instances: 1, out_quota: 4096,
/// #         own_pid: 1, peer_pid: 2, peer_uid: 0, peer_gid: 0, peer_computer_name: "h".into(),
/// #         connection,
/// #     };
/// #     let object = ObjectState::PipeEnd(state);
/// #     Manifest { std_handles: [None; 3], entries: vec![Entry { handle: 8, fds: vec![3, 4], object }] }
/// # }
/// use pipeslot_proto::handoff::Chunk;
///
/// // Half a message received and not yet read: it reaches the child intact.
/// let chunk = Chunk { offset: 0, end_of_message: false, data: b"hel".to_vec() };
/// let connection = ConnectionState { received: 3, inbound: vec![chunk], ..Default::default() };
/// let manifest = pipe_end(connection);
/// assert_eq!(Manifest::decode(&manifest.encode()), Ok(manifest));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The stream offset of `data[0]`.
    pub offset: u64,
    /// The data ends a message.
    pub end_of_message: bool,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A connection's state as one end sees it.
///
/// ```
/// # use pipeslot_proto::handoff::{ConnectionState, Entry, Manifest, ObjectState, PipeEndState};
/// # fn pipe_end(connection: ConnectionState) -> Manifest {
/// #     let state = PipeEndState {
/// #         name: r"\\.\pipe\p".into(), server_end: true, message_type: true, message_read: true,
/// #         nowait: false, can_read: true, can_write: true, can_set_state: true,
/// #         in_buffer_size: 4096, out_buffer_size: 4096, max_instances: 1, out_quota: 4096,
/// #         own_pid: 1, peer_pid: 2, peer_uid: 0, peer_gid: 0, peer_computer_name: "h".into(),
/// #         connection,
/// #     };
/// #     let object = ObjectState::PipeEnd(state);
/// #     Manifest { std_handles: [None; 3], entries: vec![Entry { handle: 8, fds: vec![3, 4], object }] }
/// # }
/// use pipeslot_proto::handoff::EndState;
///
/// assert_eq!(ConnectionState::default().end, EndState::Open);
/// // A child inherits an end whose peer has gone as an end whose peer has gone.
/// let manifest = pipe_end(ConnectionState { end: EndState::PeerClosed, ..Default::default() });
/// let back = Manifest::decode(&manifest.encode()).unwrap();
/// let ObjectState::PipeEnd(end) = &back.entries[0].object else { unreachable!() };
/// assert_eq!(end.connection.end, EndState::PeerClosed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndState {
    /// Both ends open.
    #[default]
    Open,
    /// The peer closed its end.
    PeerClosed,
    /// The server disconnected.
    Disconnected,
}

/// A mailslot's reading end.
///
/// ```text
/// string name, u32 max message size, u8 timeout kind (0 forever,
/// 1 milliseconds), u64 milliseconds, u8 check sender, u32 message count
/// and that many bytes
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailslotState {
    /// The mailslot's name.
    pub name: String,
    /// The maximum message size (0 = any).
    pub max_message_size: u32,
    /// The read timeout in milliseconds (`None` = forever).
    pub read_timeout_ms: Option<u64>,
    /// Datagrams carry credentials that the reader checks (T24).
    pub check_sender: bool,
    /// Messages already taken from the kernel and not yet read.
    pub queued: Vec<Vec<u8>>,
}

/// Why bytes are not a manifest.
///
/// ```
/// use pipeslot_proto::handoff::{HandoffError, Manifest};
///
/// assert_eq!(Manifest::decode(b"PSHO\x02\x00"), Err(HandoffError::UnsupportedVersion(2)));
/// let mut bytes = Manifest::default().encode();
/// assert_eq!(Manifest::decode(&bytes[..10]), Err(HandoffError::Short));
/// bytes.push(0);
/// assert_eq!(Manifest::decode(&bytes), Err(HandoffError::TrailingBytes(1)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandoffError {
    /// The bytes do not start with [`MAGIC`].
    BadMagic,
    /// A version other than [`VERSION`].
    UnsupportedVersion(u16),
    /// The bytes end inside a field.
    Short,
    /// Bytes follow the last entry.
    TrailingBytes(usize),
    /// A field holds a value this version does not define.
    BadValue(&'static str),
    /// A string is not UTF-8, or contains NUL.
    BadString(&'static str),
}

impl fmt::Display for HandoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandoffError::BadMagic => f.write_str("not a handoff manifest (bad magic)"),
            HandoffError::UnsupportedVersion(v) => {
                write!(f, "handoff manifest version {v} is not supported")
            }
            HandoffError::Short => f.write_str("handoff manifest ends inside a field"),
            HandoffError::TrailingBytes(n) => {
                write!(f, "handoff manifest has {n} trailing bytes")
            }
            HandoffError::BadValue(field) => {
                write!(f, "handoff manifest has a malformed `{field}`")
            }
            HandoffError::BadString(field) => {
                write!(f, "handoff manifest `{field}` is not UTF-8 without NUL")
            }
        }
    }
}

impl std::error::Error for HandoffError {}

const TAG_ANON_READER: u8 = 1;
const TAG_ANON_WRITER: u8 = 2;
const TAG_FILE: u8 = 3;
const TAG_PIPE_END: u8 = 4;
const TAG_MAILSLOT: u8 = 5;
const TAG_MAILSLOT_WRITER: u8 = 6;
const TAG_INSTANCE: u8 = 7;

impl Manifest {
    /// The manifest as bytes.
    ///
    /// # Panics
    /// If a string, byte string or list holds more than `u32::MAX` items,
    /// or an entry has more than [`MAX_FDS`] descriptors or a negative one:
    /// no handle's state comes near these limits.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for handle in self.std_handles {
            out.push(u8::from(handle.is_some()));
            out.extend_from_slice(&handle.unwrap_or(0).to_le_bytes());
        }
        put_u32(&mut out, self.entries.len());
        for entry in &self.entries {
            entry.encode(&mut out);
        }
        out
    }

    /// Decodes a whole manifest; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, HandoffError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(HandoffError::BadMagic);
        }
        let version = u16::from_le_bytes([r.u8()?, r.u8()?]);
        if version != VERSION {
            return Err(HandoffError::UnsupportedVersion(version));
        }
        let mut std_handles = [None; 3];
        for slot in &mut std_handles {
            let present = r.bool("std_handle")?;
            let value = r.u64()?;
            *slot = match (present, value) {
                (true, v) => Some(v),
                (false, 0) => None,
                (false, _) => return Err(HandoffError::BadValue("std_handle")),
            };
        }
        let count = r.u32()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            entries.push(Entry::decode(&mut r)?);
        }
        if !r.0.is_empty() {
            return Err(HandoffError::TrailingBytes(r.0.len()));
        }
        Ok(Manifest {
            std_handles,
            entries,
        })
    }
}

impl Entry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.handle.to_le_bytes());
        assert!(self.fds.len() <= MAX_FDS, "too many descriptors");
        out.push(self.fds.len() as u8);
        for fd in &self.fds {
            assert!(*fd >= 0, "negative descriptor");
            out.extend_from_slice(&fd.to_le_bytes());
        }
        match &self.object {
            ObjectState::AnonReader { nowait, size } => {
                out.extend_from_slice(&[TAG_ANON_READER, u8::from(*nowait)]);
                out.extend_from_slice(&size.to_le_bytes());
            }
            ObjectState::AnonWriter { nowait, size } => {
                out.extend_from_slice(&[TAG_ANON_WRITER, u8::from(*nowait)]);
                out.extend_from_slice(&size.to_le_bytes());
            }
            ObjectState::File { read, write } => {
                out.extend_from_slice(&[TAG_FILE, u8::from(*read) | u8::from(*write) << 1]);
            }
            ObjectState::PipeEnd(state) => {
                out.push(TAG_PIPE_END);
                state.encode(out);
            }
            ObjectState::Instance(state) => {
                out.push(TAG_INSTANCE);
                put_string(out, &state.name);
                put_flags(
                    out,
                    &[
                        state.message_type,
                        state.message_read,
                        state.nowait,
                        state.inbound,
                        state.outbound,
                        state.listening,
                    ],
                );
                for word in [
                    state.in_buffer_size,
                    state.out_buffer_size,
                    state.max_instances,
                    state.default_timeout_ms,
                ] {
                    out.extend_from_slice(&word.to_le_bytes());
                }
            }
            ObjectState::Mailslot(state) => {
                out.push(TAG_MAILSLOT);
                put_string(out, &state.name);
                out.extend_from_slice(&state.max_message_size.to_le_bytes());
                out.push(u8::from(state.read_timeout_ms.is_some()));
                out.extend_from_slice(&state.read_timeout_ms.unwrap_or(0).to_le_bytes());
                out.push(u8::from(state.check_sender));
                put_u32(out, state.queued.len());
                for message in &state.queued {
                    put_bytes(out, message);
                }
            }
            ObjectState::MailslotWriter {
                name,
                limit,
                broadcast,
            } => {
                out.push(TAG_MAILSLOT_WRITER);
                put_string(out, name);
                out.extend_from_slice(&limit.to_le_bytes());
                out.push(u8::from(*broadcast));
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Entry, HandoffError> {
        let handle = r.u64()?;
        let fd_count = r.u8()? as usize;
        if fd_count > MAX_FDS {
            return Err(HandoffError::BadValue("fd_count"));
        }
        let mut fds = Vec::with_capacity(fd_count);
        for _ in 0..fd_count {
            let fd = r.u32()? as i32;
            if fd < 0 {
                return Err(HandoffError::BadValue("fd"));
            }
            fds.push(fd);
        }
        let object = match r.u8()? {
            TAG_ANON_READER => ObjectState::AnonReader {
                nowait: r.bool("nowait")?,
                size: r.u32()?,
            },
            TAG_ANON_WRITER => ObjectState::AnonWriter {
                nowait: r.bool("nowait")?,
                size: r.u32()?,
            },
            TAG_FILE => match r.u8()? {
                access @ 0..=3 => ObjectState::File {
                    read: access & 1 != 0,
                    write: access & 2 != 0,
                },
                _ => return Err(HandoffError::BadValue("access")),
            },
            TAG_PIPE_END => ObjectState::PipeEnd(PipeEndState::decode(r)?),
            TAG_INSTANCE => {
                let name = r.string("name")?;
                let flags = r.flags(6)?;
                let bit = |i: u8| flags & (1 << i) != 0;
                ObjectState::Instance(InstanceState {
                    name,
                    message_type: bit(0),
                    message_read: bit(1),
                    nowait: bit(2),
                    inbound: bit(3),
                    outbound: bit(4),
                    listening: bit(5),
                    in_buffer_size: r.u32()?,
                    out_buffer_size: r.u32()?,
                    max_instances: r.u32()?,
                    default_timeout_ms: r.u32()?,
                })
            }
            TAG_MAILSLOT => {
                let name = r.string("name")?;
                let max_message_size = r.u32()?;
                let timed = r.bool("read_timeout")?;
                let ms = r.u64()?;
                let read_timeout_ms = match (timed, ms) {
                    (true, ms) => Some(ms),
                    (false, 0) => None,
                    (false, _) => return Err(HandoffError::BadValue("read_timeout")),
                };
                let check_sender = r.bool("check_sender")?;
                let count = r.u32()?;
                let mut queued = Vec::new();
                for _ in 0..count {
                    queued.push(r.bytes()?.to_vec());
                }
                ObjectState::Mailslot(MailslotState {
                    name,
                    max_message_size,
                    read_timeout_ms,
                    check_sender,
                    queued,
                })
            }
            TAG_MAILSLOT_WRITER => ObjectState::MailslotWriter {
                name: r.string("name")?,
                limit: r.u32()?,
                broadcast: r.bool("broadcast")?,
            },
            _ => return Err(HandoffError::BadValue("kind")),
        };
        Ok(Entry {
            handle,
            fds,
            object,
        })
    }
}

impl PipeEndState {
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, &self.name);
        put_flags(
            out,
            &[
                self.server_end,
                self.message_type,
                self.message_read,
                self.nowait,
                self.can_read,
                self.can_write,
                self.can_set_state,
            ],
        );
        for value in [
            self.in_buffer_size,
            self.out_buffer_size,
            self.max_instances,
            self.out_quota,
            self.own_pid,
            self.peer_pid,
            self.peer_uid,
            self.peer_gid,
        ] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        put_string(out, &self.peer_computer_name);
        let c = &self.connection;
        out.push(match c.end {
            EndState::Open => 1,
            EndState::PeerClosed => 2,
            EndState::Disconnected => 3,
        });
        for value in [c.consumed, c.received, c.sent, c.peer_consumed] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        put_u32(out, c.pending.len());
        for (start, end) in &c.pending {
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
        put_u32(out, c.inbound.len());
        for chunk in &c.inbound {
            out.extend_from_slice(&chunk.offset.to_le_bytes());
            out.push(u8::from(chunk.end_of_message));
            put_bytes(out, &chunk.data);
        }
        put_bytes(out, &c.undecoded);
    }

    fn decode(r: &mut Reader<'_>) -> Result<PipeEndState, HandoffError> {
        let name = r.string("name")?;
        let flags = r.flags(7)?;
        let flag = |bit: u8| flags & (1 << bit) != 0;
        let in_buffer_size = r.u32()?;
        let out_buffer_size = r.u32()?;
        let max_instances = r.u32()?;
        let out_quota = r.u32()?;
        let own_pid = r.u32()?;
        let peer_pid = r.u32()?;
        let peer_uid = r.u32()?;
        let peer_gid = r.u32()?;
        let peer_computer_name = r.string("peer_computer_name")?;
        let end = match r.u8()? {
            1 => EndState::Open,
            2 => EndState::PeerClosed,
            3 => EndState::Disconnected,
            _ => return Err(HandoffError::BadValue("end")),
        };
        let (consumed, received, sent, peer_consumed) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let mut pending = Vec::new();
        for _ in 0..r.u32()? {
            pending.push((r.u64()?, r.u64()?));
        }
        let mut inbound = Vec::new();
        for _ in 0..r.u32()? {
            inbound.push(Chunk {
                offset: r.u64()?,
                end_of_message: r.bool("end_of_message")?,
                data: r.bytes()?.to_vec(),
            });
        }
        let undecoded = r.bytes()?.to_vec();
        Ok(PipeEndState {
            name,
            server_end: flag(0),
            message_type: flag(1),
            message_read: flag(2),
            nowait: flag(3),
            can_read: flag(4),
            can_write: flag(5),
            can_set_state: flag(6),
            in_buffer_size,
            out_buffer_size,
            max_instances,
            out_quota,
            own_pid,
            peer_pid,
            peer_uid,
            peer_gid,
            peer_computer_name,
            connection: ConnectionState {
                end,
                consumed,
                received,
                sent,
                peer_consumed,
                pending,
                inbound,
                undecoded,
            },
        })
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("length fits in u32");
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Booleans as the bits of one byte, the first the lowest.
fn put_flags(out: &mut Vec<u8>, flags: &[bool]) {
    out.push(
        flags
            .iter()
            .enumerate()
            .fold(0u8, |bits, (bit, &set)| bits | u8::from(set) << bit),
    );
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// Reads fields off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A byte of `count` flags ([`put_flags`]); any higher bit set is an
    /// error.
    fn flags(&mut self, count: u32) -> Result<u8, HandoffError> {
        let flags = self.u8()?;
        if u32::from(flags) >> count != 0 {
            return Err(HandoffError::BadValue("flags"));
        }
        Ok(flags)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], HandoffError> {
        if self.0.len() < n {
            return Err(HandoffError::Short);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, HandoffError> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self, field: &'static str) -> Result<bool, HandoffError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(HandoffError::BadValue(field)),
        }
    }

    fn u32(&mut self) -> Result<u32, HandoffError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, HandoffError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], HandoffError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self, field: &'static str) -> Result<String, HandoffError> {
        let bytes = self.bytes()?;
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.contains('\0') => Ok(s.to_owned()),
            _ => Err(HandoffError::BadString(field)),
        }
    }
}
