//! The handshake that opens every named-pipe connection.
//!
//! A client connects to the Unix stream socket of a pipe name and sends a
//! [`ClientHello`]: what access it wants, whether it opens (CreateFile) or
//! waits for a free instance (WaitNamedPipe), and who it says it is. The
//! server checks the access against the pipe and the peer's credentials and
//! answers with one [`ServerHello`] (docs/design.md §4). After a
//! [`ServerHello::Connected`] both sides switch to [frames](crate::frame);
//! after any other answer the server closes the connection.
//!
//! # Byte format
//!
//! Both hellos share a prefix that stays the same in every protocol version,
//! so that any two versions can at least tell each other apart (threat T10).
//! Integers are little-endian.
//!
//! ```text
//! offset  size  field
//! 0       4     magic     "PSLP"
//! 4       2     version   u16, 1 for this layout
//! 6       4     body_len  u32
//! 10      n     body
//! ```
//!
//! A whole hello, prefix included, is at most [`MAX_HELLO_LEN`] bytes; a
//! `body_len` claiming more is refused as soon as the prefix is in, without
//! waiting for the body (T9, T11). The body of version 1 must hold its
//! fields exactly: trailing bytes are an error, and new fields come with a
//! new version, not as optional tails. That keeps the encoding canonical
//! (a decoded hello re-encodes to the same bytes) and the parser strict.
//!
//! A *string* is a `u16` byte length then that many bytes of UTF-8 without
//! NUL (NUL would end the string early on the C surface). The ClientHello
//! body of version 1:
//!
//! ```text
//! size  field
//! 1     access         bit 0 read (GENERIC_READ), bit 1 write (GENERIC_WRITE);
//!                      the other bits 0. No bit set is "access 0" (S32)
//! 1     open mode      1 Open (CreateFile), 2 Wait (WaitNamedPipe),
//!                      3 Instance (CreateNamedPipe in another process)
//! 1     timeout kind   Open, Instance: 0. Wait: 1 Default, 2 Forever, 3 Millis
//! 4     millis         u32; 0 unless the timeout kind is Millis
//! 4     client pid     u32
//! s     computer name  string of at most 255 bytes
//! 1     remote         0 none, 1 a RemotePrincipal follows
//! s     host           string of at most 255 bytes   (only if remote = 1)
//! s     subject        string of at most 1024 bytes  (only if remote = 1)
//! ```
//!
//! An Instance hello has access 0, millis 0, no remote principal, and
//! goes on with the instance's parameters:
//!
//! ```text
//! size  field
//! 1     direction      bit 0 inbound, bit 1 outbound (at least one); others 0
//! 1     pipe type      1 Byte, 2 Message
//! 4     in quota       u32
//! 4     out quota      u32
//! 4     max instances  u32, 1..=255
//! 1     flags          bit 0 FILE_FLAG_FIRST_PIPE_INSTANCE, bit 1 bound (the
//!                      instance has a client: it does not listen until
//!                      its process says so); others 0
//! ```
//!
//! After [`ServerHello::InstanceAdded`] the connection carries the
//! [`instance`](crate::instance) records between the name's owner and the
//! process that added the instance.
//!
//! The ServerHello body of version 1 is a status byte, then the fields of
//! that status, if any:
//!
//! ```text
//! status                 fields
//! 1 Connected            u32 instance, u8 pipe type (1 Byte, 2 Message),
//!                        u32 server pid, u32 in quota, u32 out quota,
//!                        u32 max instances, u32 default timeout (ms)
//! 2 Busy                 -
//! 3 Available            -
//! 4 TimedOut             -
//! 5 AccessDenied         -
//! 6 VersionMismatch      u16 supported version
//! 7 LimitsExceeded       -
//! 8 NoInstance           -
//! 9 Unreachable          -
//! 10 InstanceAdded       u32 instance, u32 instances (this one included)
//! ```
//!
//! No tag is ever 0, so that zeroed memory never decodes as a hello.
//!
//! # Versions
//!
//! A decoder of this module accepts version 1 only and reports any other as
//! [`HandshakeError::UnsupportedVersion`] once the 6 bytes of magic and
//! version are in. A server answers that with
//! [`ServerHello::VersionMismatch`] naming the highest version it speaks,
//! and closes. That answer is always sent in the version-1 layout, which
//! every later version must keep decoding, so a newer client learns why.
//!
//! # Trust
//!
//! Nothing a client claims here is proof of anything (threat T20). The
//! server authorises with the peer credentials of the socket (SO_PEERCRED);
//! `client_pid` is informational; a [`RemotePrincipal`] or a computer name
//! other than `.` or empty is believed only when the peer's uid is the
//! gateway's (T22). This module carries the claims; it does not judge them.
//!
//! ```
//! use pipeslot_proto::handshake::{Access, ClientHello, OpenMode, WaitTimeout};
//!
//! let hello = ClientHello {
//!     access: Access { read: true, write: true },
//!     mode: OpenMode::Wait { timeout: WaitTimeout::Millis(2000) },
//!     client_pid: 4242,
//!     computer_name: ".".to_string(),
//!     remote: None,
//! };
//! let bytes = hello.encode().unwrap();
//! assert_eq!(&bytes[..6], b"PSLP\x01\x00");
//!
//! // Bytes arrive in pieces: a prefix asks for more, the whole decodes.
//! assert_eq!(ClientHello::decode(&bytes[..bytes.len() - 1]), Ok(None));
//! assert_eq!(ClientHello::decode(&bytes), Ok(Some((hello, bytes.len()))));
//! ```

use std::fmt;

/// The first four bytes of every hello.
pub const MAGIC: [u8; 4] = *b"PSLP";

/// The protocol version this module speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The largest hello, prefix included, in bytes.
pub const MAX_HELLO_LEN: usize = 4096;

/// The longest computer name, in bytes.
pub const MAX_COMPUTER_NAME_LEN: usize = 255;

/// The longest [`RemotePrincipal::host`], in bytes.
pub const MAX_HOST_LEN: usize = 255;

/// The longest [`RemotePrincipal::subject`], in bytes.
pub const MAX_SUBJECT_LEN: usize = 1024;

/// The access a client asks for.
///
/// Access must match the pipe's direction: `write` needs an inbound or
/// duplex pipe, `read` an outbound or duplex one; neither ("access 0") is
/// always accepted (S32).
///
/// ```
/// use pipeslot_proto::handshake::Access;
///
/// assert_eq!(Access::default(), Access { read: false, write: false });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access {
    /// GENERIC_READ.
    pub read: bool,
    /// GENERIC_WRITE.
    pub write: bool,
}

/// What the client wants done.
///
/// ```
/// use pipeslot_proto::handshake::{OpenMode, WaitTimeout};
///
/// let wait = OpenMode::Wait { timeout: WaitTimeout::Default };
/// assert_ne!(wait, OpenMode::Open);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenMode {
    /// CreateFile: bind to a listening instance now, in the order of S31, or
    /// be answered [`ServerHello::Busy`] (S30).
    Open,
    /// WaitNamedPipe: the server holds the request until an instance listens
    /// ([`ServerHello::Available`], S36, S38) or the timeout passes
    /// ([`ServerHello::TimedOut`], S37). Either way the connection then
    /// closes; an available instance is not reserved (S40).
    Wait {
        /// How long the server holds the request.
        timeout: WaitTimeout,
    },
    /// CreateNamedPipe of a name another process owns: the owner adds an
    /// instance that this connection serves (S21-S25), answering
    /// [`ServerHello::InstanceAdded`], [`ServerHello::Busy`] (S22) or
    /// [`ServerHello::AccessDenied`] (S23, S25, or a peer that may not
    /// add instances).
    Instance(InstanceRequest),
}

/// The parameters of an instance another process adds to a name
/// ([`OpenMode::Instance`]).
///
/// ```
/// use pipeslot_proto::handshake::{InstanceRequest, PipeType};
///
/// let request = InstanceRequest {
///     inbound: true,
///     outbound: true,
///     pipe_type: PipeType::Message,
///     in_quota: 4096,
///     out_quota: 4096,
///     max_instances: 255,
///     first: false,
///     bound: false,
/// };
/// assert!(request.inbound && request.outbound);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceRequest {
    /// PIPE_ACCESS_INBOUND (the server reads).
    pub inbound: bool,
    /// PIPE_ACCESS_OUTBOUND (the server writes).
    pub outbound: bool,
    /// Byte or message pipe.
    pub pipe_type: PipeType,
    /// `nInBufferSize`.
    pub in_quota: u32,
    /// `nOutBufferSize`.
    pub out_quota: u32,
    /// `nMaxInstances`, 1 to 255.
    pub max_instances: u32,
    /// FILE_FLAG_FIRST_PIPE_INSTANCE (S25).
    pub first: bool,
    /// The instance serves a client already (an instance re-added after
    /// its name's owner ended): it is not bound to another until its
    /// process says it listens.
    pub bound: bool,
}

/// How long a WaitNamedPipe request may be held (S39).
///
/// ```
/// use pipeslot_proto::handshake::WaitTimeout;
///
/// assert_eq!(WaitTimeout::from_win32(0), WaitTimeout::Default);
/// assert_eq!(WaitTimeout::from_win32(0xFFFF_FFFF), WaitTimeout::Forever);
/// assert_eq!(WaitTimeout::from_win32(1), WaitTimeout::Millis(1)); // NMPWAIT_NOWAIT
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitTimeout {
    /// NMPWAIT_USE_DEFAULT_WAIT: the server's default timeout.
    Default,
    /// NMPWAIT_WAIT_FOREVER.
    Forever,
    /// This many milliseconds. The wire keeps 0 and `u32::MAX` as plain
    /// numbers (0 answers at once); only [`WaitTimeout::from_win32`] gives
    /// them their Win32 meanings.
    Millis(u32),
}

impl WaitTimeout {
    /// The timeout meant by WaitNamedPipe's `nTimeOut`: 0 is
    /// NMPWAIT_USE_DEFAULT_WAIT, 0xFFFFFFFF is NMPWAIT_WAIT_FOREVER, anything
    /// else is milliseconds.
    pub fn from_win32(timeout: u32) -> WaitTimeout {
        match timeout {
            0 => WaitTimeout::Default,
            u32::MAX => WaitTimeout::Forever,
            ms => WaitTimeout::Millis(ms),
        }
    }
}

/// The remote client on whose behalf a gateway connects (threat T22).
///
/// Only the gateway sends one; a server believes it only when the peer's uid
/// is the gateway's, and otherwise treats the connection as its local uid.
///
/// ```
/// use pipeslot_proto::handshake::RemotePrincipal;
///
/// let alice = RemotePrincipal { host: "hosta".into(), subject: "CN=alice".into() };
/// assert_eq!(alice.clone(), alice);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemotePrincipal {
    /// The host the remote client connected from, as its certificate names
    /// it; at most [`MAX_HOST_LEN`] bytes.
    pub host: String,
    /// The remote client's certificate subject; at most
    /// [`MAX_SUBJECT_LEN`] bytes.
    pub subject: String,
}

/// The first message on a connection, client to server.
///
/// ```
/// use pipeslot_proto::handshake::{Access, ClientHello, HandshakeError, OpenMode};
///
/// let hello = ClientHello {
///     access: Access { read: true, write: false },
///     mode: OpenMode::Open,
///     client_pid: 7,
///     computer_name: "x".repeat(256),
///     remote: None,
/// };
/// assert_eq!(
///     hello.encode(),
///     Err(HandshakeError::StringTooLong { field: "computer_name", len: 256, max: 255 })
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientHello {
    /// The access asked for (S32).
    pub access: Access,
    /// Open now, or wait for an instance.
    pub mode: OpenMode,
    /// The client's process id. Informational only, never used to authorise
    /// (T20): the server takes the peer's pid from the socket.
    pub client_pid: u32,
    /// What GetNamedPipeClientComputerName reports: `.` or empty for a local
    /// client; at most [`MAX_COMPUTER_NAME_LEN`] bytes.
    pub computer_name: String,
    /// Set only by the gateway, for a remote client (T22).
    pub remote: Option<RemotePrincipal>,
}

impl ClientHello {
    /// The hello as bytes. Fails when a string is longer than its limit
    /// ([`HandshakeError::StringTooLong`]) or contains NUL
    /// ([`HandshakeError::BadString`]); the result is then at most
    /// [`MAX_HELLO_LEN`] bytes.
    pub fn encode(&self) -> Result<Vec<u8>, HandshakeError> {
        let mut body = Vec::with_capacity(64);
        body.push(u8::from(self.access.read) | u8::from(self.access.write) << 1);
        let (mode, kind, millis) = match self.mode {
            OpenMode::Open => (MODE_OPEN, 0, 0),
            OpenMode::Instance(_) => (MODE_INSTANCE, 0, 0),
            OpenMode::Wait { timeout } => match timeout {
                WaitTimeout::Default => (MODE_WAIT, TIMEOUT_DEFAULT, 0),
                WaitTimeout::Forever => (MODE_WAIT, TIMEOUT_FOREVER, 0),
                WaitTimeout::Millis(ms) => (MODE_WAIT, TIMEOUT_MILLIS, ms),
            },
        };
        body.extend_from_slice(&[mode, kind]);
        body.extend_from_slice(&millis.to_le_bytes());
        body.extend_from_slice(&self.client_pid.to_le_bytes());
        push_string(
            &mut body,
            "computer_name",
            &self.computer_name,
            MAX_COMPUTER_NAME_LEN,
        )?;
        match &self.remote {
            None => body.push(0),
            Some(principal) => {
                body.push(1);
                push_string(&mut body, "host", &principal.host, MAX_HOST_LEN)?;
                push_string(&mut body, "subject", &principal.subject, MAX_SUBJECT_LEN)?;
            }
        }
        if let OpenMode::Instance(request) = self.mode {
            if self.access != Access::default() || self.remote.is_some() {
                return Err(HandshakeError::BadValue("instance"));
            }
            body.push(u8::from(request.inbound) | u8::from(request.outbound) << 1);
            body.push(pipe_type_byte(request.pipe_type));
            for word in [request.in_quota, request.out_quota, request.max_instances] {
                body.extend_from_slice(&word.to_le_bytes());
            }
            body.push(u8::from(request.first) | u8::from(request.bound) << 1);
        }
        Ok(with_prefix(&body))
    }

    /// Decodes a hello from the start of `buf`.
    ///
    /// Returns the hello and how many bytes it took (frames may follow it in
    /// `buf`), `Ok(None)` when more bytes are needed, or an error as soon as
    /// the bytes in hand prove the hello bad: a wrong magic from the first
    /// mismatching byte, a version other than 1 after 6 bytes, an oversized
    /// length after 10. Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<Option<(ClientHello, usize)>, HandshakeError> {
        let Some((body, used)) = split_hello(buf)? else {
            return Ok(None);
        };
        let mut body = Body(body);
        let access = body.u8()?;
        if access & !0b11 != 0 {
            return Err(HandshakeError::BadValue("access"));
        }
        let access = Access {
            read: access & 0b01 != 0,
            write: access & 0b10 != 0,
        };
        let (mode_byte, kind, millis) = (body.u8()?, body.u8()?, body.u32()?);
        let mode = match (mode_byte, kind) {
            (MODE_OPEN, 0) if millis == 0 => OpenMode::Open,
            (MODE_OPEN, _) => return Err(HandshakeError::BadValue("wait_timeout")),
            // Its parameters follow the common fields.
            (MODE_INSTANCE, 0) if millis == 0 => OpenMode::Open,
            (MODE_INSTANCE, _) => return Err(HandshakeError::BadValue("wait_timeout")),
            (MODE_WAIT, _) => OpenMode::Wait {
                timeout: match kind {
                    TIMEOUT_DEFAULT if millis == 0 => WaitTimeout::Default,
                    TIMEOUT_FOREVER if millis == 0 => WaitTimeout::Forever,
                    TIMEOUT_MILLIS => WaitTimeout::Millis(millis),
                    _ => return Err(HandshakeError::BadValue("wait_timeout")),
                },
            },
            _ => return Err(HandshakeError::BadValue("open_mode")),
        };
        let client_pid = body.u32()?;
        let computer_name = body.string("computer_name", MAX_COMPUTER_NAME_LEN)?;
        let remote = match body.u8()? {
            0 => None,
            1 => Some(RemotePrincipal {
                host: body.string("host", MAX_HOST_LEN)?,
                subject: body.string("subject", MAX_SUBJECT_LEN)?,
            }),
            _ => return Err(HandshakeError::BadValue("remote")),
        };
        let mode = if mode_byte == MODE_INSTANCE {
            if access != Access::default() || remote.is_some() {
                return Err(HandshakeError::BadValue("instance"));
            }
            let direction = body.u8()?;
            if direction & !0b11 != 0 || direction == 0 {
                return Err(HandshakeError::BadValue("direction"));
            }
            let pipe_type = decode_pipe_type(body.u8()?)?;
            let (in_quota, out_quota, max_instances) = (body.u32()?, body.u32()?, body.u32()?);
            if !(1..=255).contains(&max_instances) {
                return Err(HandshakeError::BadValue("max_instances"));
            }
            let flags = body.u8()?;
            if flags & !0b11 != 0 {
                return Err(HandshakeError::BadValue("flags"));
            }
            OpenMode::Instance(InstanceRequest {
                inbound: direction & 0b01 != 0,
                outbound: direction & 0b10 != 0,
                pipe_type,
                in_quota,
                out_quota,
                max_instances,
                first: flags & 1 != 0,
                bound: flags & 2 != 0,
            })
        } else {
            mode
        };
        body.end()?;
        let hello = ClientHello {
            access,
            mode,
            client_pid,
            computer_name,
            remote,
        };
        Ok(Some((hello, used)))
    }
}

/// How a pipe's data is delimited (PIPE_TYPE_BYTE or PIPE_TYPE_MESSAGE).
///
/// ```
/// use pipeslot_proto::handshake::PipeType;
///
/// assert_ne!(PipeType::Byte, PipeType::Message);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeType {
    /// A byte stream (S58).
    Byte,
    /// Every write is one message (S61).
    Message,
}

/// The server's one answer to a [`ClientHello`].
///
/// An [`OpenMode::Open`] is answered `Connected`, `Busy`, `AccessDenied`,
/// `LimitsExceeded` or `NoInstance`; an [`OpenMode::Wait`] is answered
/// `Available`, `TimedOut`, `AccessDenied`, `LimitsExceeded` or
/// `NoInstance`; an unknown version is answered `VersionMismatch`. Any
/// other pairing is a protocol error for the client to refuse. The Win32
/// codes named below are what the client's call fails with; this crate
/// does not depend on the one that defines them.
///
/// ```
/// use pipeslot_proto::handshake::ServerHello;
///
/// let bytes = ServerHello::Busy.encode();
/// assert_eq!(bytes, b"PSLP\x01\x00\x01\x00\x00\x00\x02");
/// assert_eq!(ServerHello::decode(&bytes), Ok(Some((ServerHello::Busy, 11))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerHello {
    /// The client is bound to a listening instance; CreateFile succeeds and
    /// frames follow. The client's end starts in byte-read, blocking mode
    /// whatever the pipe type (S33).
    Connected {
        /// The instance's index in the server, for diagnostics.
        instance: u32,
        /// Byte or message pipe; decides how frames are read (S58-S66).
        pipe_type: PipeType,
        /// The server's process id (GetNamedPipeServerProcessId).
        server_pid: u32,
        /// The quota of the client-to-server direction: the server's
        /// `nInBufferSize` (S71).
        in_quota: u32,
        /// The quota of the server-to-client direction: the server's
        /// `nOutBufferSize` (S71).
        out_quota: u32,
        /// The instance limit; 255 is PIPE_UNLIMITED_INSTANCES.
        max_instances: u32,
        /// The server's `nDefaultTimeOut`, in milliseconds (S39).
        default_timeout_ms: u32,
    },
    /// No instance is listening: ERROR_PIPE_BUSY (231; S30, S31).
    Busy,
    /// Reply to a wait: an instance is listening, WaitNamedPipe returns TRUE
    /// (S36, S38). Nothing is reserved (S40).
    Available,
    /// Reply to a wait: the timeout passed with every instance busy,
    /// ERROR_SEM_TIMEOUT (121; S37).
    TimedOut,
    /// The access does not match the pipe's direction (S32), the peer's uid
    /// is not allowed (T20), or the pipe refuses this remote principal
    /// (T21, T22): ERROR_ACCESS_DENIED (5).
    AccessDenied,
    /// The client's version is not spoken here; `supported` is the highest
    /// version the server speaks. No Win32 counterpart: pipeslot's
    /// `ProtocolError`, ERROR_BAD_PIPE (230). Always encoded in the
    /// version-1 layout.
    VersionMismatch {
        /// The highest version the server speaks.
        supported: u16,
    },
    /// A connection limit of the server was reached (threats T11, T16). No
    /// Win32 counterpart: pipeslot's `LimitsExceeded` kind, whose code the
    /// library chooses.
    LimitsExceeded,
    /// The server still holds the pipe's socket, but its last instance has
    /// closed: ERROR_FILE_NOT_FOUND (2), as for a name with no instance
    /// (S35).
    NoInstance,
    /// Sent by the gateway, never by a server: the host of a remote name
    /// is unknown, cannot be reached or has no gateway:
    /// ERROR_BAD_NETPATH (53).
    Unreachable,
    /// Reply to an [`OpenMode::Instance`]: the instance is added and
    /// listening (S29); the connection now serves it.
    InstanceAdded {
        /// The instance's index in the name's owner.
        instance: u32,
        /// How many instances the name has, this one included.
        instances: u32,
    },
}

impl ServerHello {
    /// The hello as bytes: at most 37, so well within [`MAX_HELLO_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(32);
        match *self {
            ServerHello::Connected {
                instance,
                pipe_type,
                server_pid,
                in_quota,
                out_quota,
                max_instances,
                default_timeout_ms,
            } => {
                body.push(STATUS_CONNECTED);
                body.extend_from_slice(&instance.to_le_bytes());
                body.push(match pipe_type {
                    PipeType::Byte => PIPE_TYPE_BYTE,
                    PipeType::Message => PIPE_TYPE_MESSAGE,
                });
                for word in [
                    server_pid,
                    in_quota,
                    out_quota,
                    max_instances,
                    default_timeout_ms,
                ] {
                    body.extend_from_slice(&word.to_le_bytes());
                }
            }
            ServerHello::Busy => body.push(STATUS_BUSY),
            ServerHello::Available => body.push(STATUS_AVAILABLE),
            ServerHello::TimedOut => body.push(STATUS_TIMED_OUT),
            ServerHello::AccessDenied => body.push(STATUS_ACCESS_DENIED),
            ServerHello::VersionMismatch { supported } => {
                body.push(STATUS_VERSION_MISMATCH);
                body.extend_from_slice(&supported.to_le_bytes());
            }
            ServerHello::LimitsExceeded => body.push(STATUS_LIMITS_EXCEEDED),
            ServerHello::NoInstance => body.push(STATUS_NO_INSTANCE),
            ServerHello::Unreachable => body.push(STATUS_UNREACHABLE),
            ServerHello::InstanceAdded {
                instance,
                instances,
            } => {
                body.push(STATUS_INSTANCE_ADDED);
                body.extend_from_slice(&instance.to_le_bytes());
                body.extend_from_slice(&instances.to_le_bytes());
            }
        }
        with_prefix(&body)
    }

    /// Decodes a hello from the start of `buf`, as
    /// [`ClientHello::decode`] does: the hello and the bytes it took,
    /// `Ok(None)` for more bytes, or an error as soon as one is certain.
    /// Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<Option<(ServerHello, usize)>, HandshakeError> {
        let Some((body, used)) = split_hello(buf)? else {
            return Ok(None);
        };
        let mut body = Body(body);
        let hello = match body.u8()? {
            STATUS_CONNECTED => ServerHello::Connected {
                instance: body.u32()?,
                pipe_type: match body.u8()? {
                    PIPE_TYPE_BYTE => PipeType::Byte,
                    PIPE_TYPE_MESSAGE => PipeType::Message,
                    _ => return Err(HandshakeError::BadValue("pipe_type")),
                },
                server_pid: body.u32()?,
                in_quota: body.u32()?,
                out_quota: body.u32()?,
                max_instances: body.u32()?,
                default_timeout_ms: body.u32()?,
            },
            STATUS_BUSY => ServerHello::Busy,
            STATUS_AVAILABLE => ServerHello::Available,
            STATUS_TIMED_OUT => ServerHello::TimedOut,
            STATUS_ACCESS_DENIED => ServerHello::AccessDenied,
            STATUS_VERSION_MISMATCH => ServerHello::VersionMismatch {
                supported: body.u16()?,
            },
            STATUS_LIMITS_EXCEEDED => ServerHello::LimitsExceeded,
            STATUS_NO_INSTANCE => ServerHello::NoInstance,
            STATUS_UNREACHABLE => ServerHello::Unreachable,
            STATUS_INSTANCE_ADDED => ServerHello::InstanceAdded {
                instance: body.u32()?,
                instances: body.u32()?,
            },
            _ => return Err(HandshakeError::BadValue("status")),
        };
        body.end()?;
        Ok(Some((hello, used)))
    }
}

/// Why a hello could not be encoded or decoded.
///
/// When decoding, every variant is the peer's doing: the server answers
/// [`HandshakeError::UnsupportedVersion`] with
/// [`ServerHello::VersionMismatch`] and anything else by closing (T10).
///
/// ```
/// use pipeslot_proto::handshake::{ClientHello, HandshakeError};
///
/// assert_eq!(ClientHello::decode(b"GET / HTTP/1.1"), Err(HandshakeError::BadMagic));
/// assert_eq!(ClientHello::decode(b"PSLP\x02\x00"), Err(HandshakeError::UnsupportedVersion(2)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The bytes do not start with [`MAGIC`]: not a pipeslot peer.
    BadMagic,
    /// A version other than [`PROTOCOL_VERSION`].
    UnsupportedVersion(u16),
    /// The prefix claims a hello longer than [`MAX_HELLO_LEN`] (T9, T11).
    TooLarge {
        /// The claimed length of the whole hello, prefix included.
        len: u64,
    },
    /// The body ends before its fields do.
    ShortBody,
    /// The body goes on after its last field.
    TrailingBytes(usize),
    /// A field holds a value this version does not define.
    BadValue(&'static str),
    /// A string is longer than its limit.
    StringTooLong {
        /// Which string.
        field: &'static str,
        /// Its length, in bytes.
        len: usize,
        /// Its limit, in bytes.
        max: usize,
    },
    /// A string is not UTF-8, or contains NUL.
    BadString(&'static str),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::BadMagic => f.write_str("not a pipeslot peer (bad magic)"),
            HandshakeError::UnsupportedVersion(v) => {
                write!(f, "protocol version {v} is not supported")
            }
            HandshakeError::TooLarge { len } => {
                write!(f, "hello of {len} bytes exceeds {MAX_HELLO_LEN}")
            }
            HandshakeError::ShortBody => f.write_str("hello body ends inside a field"),
            HandshakeError::TrailingBytes(n) => write!(f, "hello body has {n} trailing bytes"),
            HandshakeError::BadValue(field) => write!(f, "hello has a malformed `{field}`"),
            HandshakeError::StringTooLong { field, len, max } => {
                write!(f, "hello `{field}` of {len} bytes exceeds {max}")
            }
            HandshakeError::BadString(field) => {
                write!(f, "hello `{field}` is not UTF-8 without NUL")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Checks the prefix of a hello as far as `buf` goes; once the whole hello
/// is in, returns its body and its total length.
fn split_hello(buf: &[u8]) -> Result<Option<(&[u8], usize)>, HandshakeError> {
    let seen = buf.len().min(MAGIC.len());
    if buf.get(..seen) != MAGIC.get(..seen) {
        return Err(HandshakeError::BadMagic);
    }
    let Some(&[v0, v1]) = buf.get(4..6) else {
        return Ok(None);
    };
    let version = u16::from_le_bytes([v0, v1]);
    if version != PROTOCOL_VERSION {
        return Err(HandshakeError::UnsupportedVersion(version));
    }
    let Some(&[l0, l1, l2, l3]) = buf.get(6..PREFIX_LEN) else {
        return Ok(None);
    };
    let total = PREFIX_LEN as u64 + u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
    let too_large = HandshakeError::TooLarge { len: total };
    if total > MAX_HELLO_LEN as u64 {
        return Err(too_large);
    }
    let total = usize::try_from(total).map_err(|_| too_large)?;
    Ok(buf.get(PREFIX_LEN..total).map(|body| (body, total)))
}

fn with_prefix(body: &[u8]) -> Vec<u8> {
    // Callers bound their bodies far below MAX_HELLO_LEN, so the length
    // fits a u32.
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(PREFIX_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn push_string(
    out: &mut Vec<u8>,
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<(), HandshakeError> {
    if text.len() > max {
        return Err(HandshakeError::StringTooLong {
            field,
            len: text.len(),
            max,
        });
    }
    if text.contains('\0') {
        return Err(HandshakeError::BadString(field));
    }
    // `max` is at most MAX_SUBJECT_LEN, so the length fits a u16.
    let len = u16::try_from(text.len()).map_err(|_| HandshakeError::StringTooLong {
        field,
        len: text.len(),
        max,
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// A cursor over a hello body that refuses to read past its end.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], HandshakeError> {
        let (head, rest) = self
            .0
            .split_at_checked(N)
            .ok_or(HandshakeError::ShortBody)?;
        self.0 = rest;
        <[u8; N]>::try_from(head).map_err(|_| HandshakeError::ShortBody)
    }

    fn u8(&mut self) -> Result<u8, HandshakeError> {
        self.take::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, HandshakeError> {
        self.take().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, HandshakeError> {
        self.take().map(u32::from_le_bytes)
    }

    fn string(&mut self, field: &'static str, max: usize) -> Result<String, HandshakeError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(HandshakeError::StringTooLong { field, len, max });
        }
        let (bytes, rest) = self
            .0
            .split_at_checked(len)
            .ok_or(HandshakeError::ShortBody)?;
        self.0 = rest;
        let text = std::str::from_utf8(bytes).map_err(|_| HandshakeError::BadString(field))?;
        if text.contains('\0') {
            return Err(HandshakeError::BadString(field));
        }
        Ok(text.to_string())
    }

    fn end(self) -> Result<(), HandshakeError> {
        match self.0.len() {
            0 => Ok(()),
            extra => Err(HandshakeError::TrailingBytes(extra)),
        }
    }
}

const PREFIX_LEN: usize = 10;

const MODE_OPEN: u8 = 1;
const MODE_WAIT: u8 = 2;
const MODE_INSTANCE: u8 = 3;

const TIMEOUT_DEFAULT: u8 = 1;
const TIMEOUT_FOREVER: u8 = 2;
const TIMEOUT_MILLIS: u8 = 3;

const PIPE_TYPE_BYTE: u8 = 1;
const PIPE_TYPE_MESSAGE: u8 = 2;

const STATUS_CONNECTED: u8 = 1;
const STATUS_BUSY: u8 = 2;
const STATUS_AVAILABLE: u8 = 3;
const STATUS_TIMED_OUT: u8 = 4;
const STATUS_ACCESS_DENIED: u8 = 5;
const STATUS_VERSION_MISMATCH: u8 = 6;
const STATUS_LIMITS_EXCEEDED: u8 = 7;
const STATUS_NO_INSTANCE: u8 = 8;
const STATUS_UNREACHABLE: u8 = 9;
const STATUS_INSTANCE_ADDED: u8 = 10;

fn pipe_type_byte(pipe_type: PipeType) -> u8 {
    match pipe_type {
        PipeType::Byte => PIPE_TYPE_BYTE,
        PipeType::Message => PIPE_TYPE_MESSAGE,
    }
}

fn decode_pipe_type(byte: u8) -> Result<PipeType, HandshakeError> {
    match byte {
        PIPE_TYPE_BYTE => Ok(PipeType::Byte),
        PIPE_TYPE_MESSAGE => Ok(PipeType::Message),
        _ => Err(HandshakeError::BadValue("pipe_type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_client_hello_fits_the_limit() {
        let hello = ClientHello {
            access: Access {
                read: true,
                write: true,
            },
            mode: OpenMode::Wait {
                timeout: WaitTimeout::Millis(u32::MAX),
            },
            client_pid: u32::MAX,
            computer_name: "c".repeat(MAX_COMPUTER_NAME_LEN),
            remote: Some(RemotePrincipal {
                host: "h".repeat(MAX_HOST_LEN),
                subject: "s".repeat(MAX_SUBJECT_LEN),
            }),
        };
        let bytes = hello.encode().unwrap();
        assert!(bytes.len() <= MAX_HELLO_LEN, "{}", bytes.len());
    }

    #[test]
    fn body_cursor_stops_at_the_end() {
        let mut body = Body(&[1, 2, 3]);
        assert_eq!(body.u16(), Ok(0x0201));
        assert_eq!(body.u32(), Err(HandshakeError::ShortBody));
        let mut body = Body(&[5, 0, b'a']);
        assert_eq!(body.string("s", 10), Err(HandshakeError::ShortBody));
    }
}
