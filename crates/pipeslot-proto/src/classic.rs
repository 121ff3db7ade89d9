//! The records of the classic command server and client (`pipeslot server`,
//! `client`, `bcast`): the book's `REQUEST`, `RESPONSE` and `MS_MESSAGE` of
//! its 4th edition (`ClientServer.h`), byte for byte, so that the C
//! programs and the Rust ones interoperate (docs/design.md §8).
//!
//! All integers are little-endian; text is 8-bit (the book's records use
//! `char`, not UNICODE).
//!
//! - **Request**, one message of [`REQUEST_LEN`] (4100) bytes: an `i32`
//!   length (the book's client always writes [`REQUEST_LEN`], and its server
//!   ignores the field), then a 4096-byte record holding the command line,
//!   NUL-terminated and zero-padded. A command line is at most
//!   [`MAX_COMMAND_LEN`] (4095) bytes.
//! - **Response**, one message per output line: an `i32` length = the
//!   line's bytes + 1, then the line (with its newline, if it had one) and a
//!   NUL. A line is at most [`MAX_LINE_LEN`] (4095) bytes; longer ones are
//!   split, as the book's `fgets(record, 4096, fp)` splits them
//!   ([`first_line_len`]).
//! - **End of a response**: a 4-byte message whose length is 0. Decoders
//!   also accept the older end record, a full-size response with an empty
//!   line: any length of 0 or 1 ends a response, as in the book's client
//!   (`if (response.rsLen <= 1) break;`).
//! - **Server announcement**, the mailslot record, [`ANNOUNCEMENT_LEN`]
//!   (268) bytes: `u32` status (0), `u32` utilization (0), then the server's
//!   pipe name, NUL-padded to `MAX_PATH` (260) bytes.
//!
//! Decoders never panic, whatever the bytes.
//!
//! ```
//! use pipeslot_proto::classic::{self, Response};
//!
//! let request = classic::encode_request(b"ls -l").unwrap();
//! assert_eq!(request.len(), classic::REQUEST_LEN);
//! assert_eq!(classic::decode_request(&request).unwrap(), b"ls -l");
//!
//! let line = classic::encode_response_line(b"total 0\n").unwrap();
//! assert_eq!(line, b"\x09\0\0\0total 0\n\0");
//! assert_eq!(classic::decode_response(&line).unwrap(), Response::Line(b"total 0\n"));
//! assert_eq!(classic::decode_response(&classic::END_OF_RESPONSE).unwrap(), Response::End);
//! ```

use std::fmt;

/// The size of a request message: the length field and the record.
pub const REQUEST_LEN: usize = LENGTH_FIELD_LEN + RECORD_LEN;

/// The longest command line a request carries (the record less its NUL).
pub const MAX_COMMAND_LEN: usize = RECORD_LEN - 1;

/// The longest line one response message carries.
pub const MAX_LINE_LEN: usize = RECORD_LEN - 1;

/// The size of a full response message (the largest one).
pub const MAX_RESPONSE_LEN: usize = LENGTH_FIELD_LEN + RECORD_LEN;

/// The end of a response: a 4-byte message with length 0.
pub const END_OF_RESPONSE: [u8; 4] = [0; 4];

/// The size of the mailslot record that announces a server.
pub const ANNOUNCEMENT_LEN: usize = 8 + PIPE_NAME_FIELD_LEN;

/// The longest pipe name an announcement carries (`MAX_PATH` less the NUL).
pub const MAX_PIPE_NAME_LEN: usize = PIPE_NAME_FIELD_LEN - 1;

/// The book's `MAX_RQRS_LEN`: the record of a request or response.
const RECORD_LEN: usize = 4096;

/// The `i32` in front of a request or response record.
const LENGTH_FIELD_LEN: usize = 4;

/// `MAX_PATH`: the pipe-name field of an announcement.
const PIPE_NAME_FIELD_LEN: usize = 260;

/// What a response message says.
///
/// ```
/// use pipeslot_proto::classic::{decode_response, encode_response_line, Response};
///
/// let line = encode_response_line(b"a.txt\n").unwrap();
/// assert_eq!(decode_response(&line), Ok(Response::Line(b"a.txt\n")));
/// // A length of 0 or 1 ends the response, whatever follows.
/// assert_eq!(decode_response(b"\x01\0\0\0junk"), Ok(Response::End));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// One line of the command's output, as it was (newline included,
    /// NUL excluded).
    Line(&'a [u8]),
    /// The end of the response to one request.
    End,
}

/// The mailslot record a server broadcasts so that clients find its pipe.
///
/// ```
/// use pipeslot_proto::classic::{Announcement, ANNOUNCEMENT_LEN};
///
/// let record = Announcement::new(br"\\host\pipe\srv").encode().unwrap();
/// assert_eq!(record.len(), ANNOUNCEMENT_LEN);
/// let decoded = Announcement::decode(&record).unwrap();
/// assert_eq!((decoded.status, decoded.pipe_name), (0, &br"\\host\pipe\srv"[..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement<'a> {
    /// `msStatus`: 0 in the book.
    pub status: u32,
    /// `msUtilization`: 0 in the book.
    pub utilization: u32,
    /// The pipe name, without its NUL padding.
    pub pipe_name: &'a [u8],
}

/// Why bytes are not a classic record, or a value cannot be encoded.
///
/// ```
/// use pipeslot_proto::classic::{decode_request, encode_request, ClassicError};
///
/// // The caller's fault: a command with a NUL inside.
/// assert_eq!(encode_request(b"ls\0-l"), Err(ClassicError::NulInside));
/// // The peer's fault: a record with no terminating NUL.
/// assert_eq!(decode_request(b"\0\0\0\0ls"), Err(ClassicError::Unterminated));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClassicError {
    /// The message is shorter than its fixed part (the peer's fault).
    TooShort {
        /// The bytes needed at least.
        needed: usize,
        /// The bytes there were.
        got: usize,
    },
    /// The message is longer than the record allows (the peer's fault), or
    /// a value is too long to encode (the caller's).
    TooLong {
        /// The most allowed.
        limit: usize,
        /// The bytes there were.
        got: usize,
    },
    /// The text has no terminating NUL within its field (the peer's fault).
    Unterminated,
    /// The text to encode contains a NUL byte (the caller's fault).
    NulInside,
    /// A response's length field is negative or points past the message
    /// (the peer's fault).
    BadLength(i32),
}

impl fmt::Display for ClassicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassicError::TooShort { needed, got } => {
                write!(f, "record of {got} bytes, shorter than {needed}")
            }
            ClassicError::TooLong { limit, got } => {
                write!(f, "{got} bytes, more than the {limit} a record allows")
            }
            ClassicError::Unterminated => f.write_str("record text has no terminating NUL"),
            ClassicError::NulInside => f.write_str("text contains a NUL byte"),
            ClassicError::BadLength(length) => {
                write!(f, "response length {length} does not fit the message")
            }
        }
    }
}

impl std::error::Error for ClassicError {}

/// A request carrying `command`: [`REQUEST_LEN`] bytes, the length field
/// set to [`REQUEST_LEN`] as the book's client sets it. Fails for a command
/// longer than [`MAX_COMMAND_LEN`] or containing a NUL.
pub fn encode_request(command: &[u8]) -> Result<Vec<u8>, ClassicError> {
    check_text(command, MAX_COMMAND_LEN)?;
    let mut request = vec![0u8; REQUEST_LEN];
    request[..LENGTH_FIELD_LEN].copy_from_slice(&(REQUEST_LEN as i32).to_le_bytes());
    request[LENGTH_FIELD_LEN..LENGTH_FIELD_LEN + command.len()].copy_from_slice(command);
    Ok(request)
}

/// The command line of a request: the record's text up to its first NUL.
///
/// The length field is ignored, as the book's server ignores it. A message
/// shorter than [`REQUEST_LEN`] is accepted as long as its text is
/// NUL-terminated (a client may leave out the padding); a longer one is
/// refused.
pub fn decode_request(message: &[u8]) -> Result<&[u8], ClassicError> {
    if message.len() > REQUEST_LEN {
        return Err(ClassicError::TooLong {
            limit: REQUEST_LEN,
            got: message.len(),
        });
    }
    let record = message
        .get(LENGTH_FIELD_LEN..)
        .ok_or(ClassicError::TooShort {
            needed: LENGTH_FIELD_LEN + 1,
            got: message.len(),
        })?;
    let end = record
        .iter()
        .position(|&b| b == 0)
        .ok_or(ClassicError::Unterminated)?;
    Ok(&record[..end])
}

/// A response message carrying one line: the length field (line + 1), the
/// line and a NUL. The line may hold any bytes but NUL (a C client would
/// stop at it) and is at most [`MAX_LINE_LEN`] bytes; it may not be empty,
/// since a length of 1 means the end of the response.
pub fn encode_response_line(line: &[u8]) -> Result<Vec<u8>, ClassicError> {
    check_text(line, MAX_LINE_LEN)?;
    if line.is_empty() {
        return Err(ClassicError::TooShort { needed: 1, got: 0 });
    }
    let mut message = Vec::with_capacity(LENGTH_FIELD_LEN + line.len() + 1);
    message.extend_from_slice(&(line.len() as i32 + 1).to_le_bytes());
    message.extend_from_slice(line);
    message.push(0);
    Ok(message)
}

/// What a response message says: a line, or the end of the response (a
/// length of 0 or 1, whatever follows it).
pub fn decode_response(message: &[u8]) -> Result<Response<'_>, ClassicError> {
    if message.len() > MAX_RESPONSE_LEN {
        return Err(ClassicError::TooLong {
            limit: MAX_RESPONSE_LEN,
            got: message.len(),
        });
    }
    let length = read_i32(message).ok_or(ClassicError::TooShort {
        needed: LENGTH_FIELD_LEN,
        got: message.len(),
    })?;
    if length == 0 || length == 1 {
        return Ok(Response::End);
    }
    let text_len = usize::try_from(length).map_err(|_| ClassicError::BadLength(length))?;
    let text = message
        .get(LENGTH_FIELD_LEN..LENGTH_FIELD_LEN + text_len)
        .ok_or(ClassicError::BadLength(length))?;
    match text.split_last() {
        Some((0, line)) if !line.contains(&0) => Ok(Response::Line(line)),
        _ => Err(ClassicError::Unterminated),
    }
}

/// The length of the first response line in `output`: through its first
/// newline, or [`MAX_LINE_LEN`] bytes when no newline comes sooner — the
/// line `fgets` would read. `None` when `output` holds neither: more bytes
/// may complete the line, and at the end of the output what is left is the
/// last line.
///
/// ```
/// use pipeslot_proto::classic::{first_line_len, MAX_LINE_LEN};
///
/// assert_eq!(first_line_len(b"ab\ncd"), Some(3));
/// assert_eq!(first_line_len(b"cd"), None);
/// assert_eq!(first_line_len(&[b'x'; 5000]), Some(MAX_LINE_LEN));
/// ```
pub fn first_line_len(output: &[u8]) -> Option<usize> {
    let window = &output[..output.len().min(MAX_LINE_LEN)];
    match window.iter().position(|&b| b == b'\n') {
        Some(newline) => Some(newline + 1),
        None if window.len() == MAX_LINE_LEN => Some(MAX_LINE_LEN),
        None => None,
    }
}

impl Announcement<'_> {
    /// The book's announcement of `pipe_name`: status and utilization 0.
    pub fn new(pipe_name: &[u8]) -> Announcement<'_> {
        Announcement {
            status: 0,
            utilization: 0,
            pipe_name,
        }
    }

    /// The [`ANNOUNCEMENT_LEN`] bytes of the record. Fails for a name
    /// longer than [`MAX_PIPE_NAME_LEN`] or containing a NUL.
    pub fn encode(&self) -> Result<Vec<u8>, ClassicError> {
        check_text(self.pipe_name, MAX_PIPE_NAME_LEN)?;
        let mut record = vec![0u8; ANNOUNCEMENT_LEN];
        record[..4].copy_from_slice(&self.status.to_le_bytes());
        record[4..8].copy_from_slice(&self.utilization.to_le_bytes());
        record[8..8 + self.pipe_name.len()].copy_from_slice(self.pipe_name);
        Ok(record)
    }

    /// Parses a record of exactly [`ANNOUNCEMENT_LEN`] bytes whose name is
    /// NUL-terminated within its field. Never panics.
    pub fn decode(record: &[u8]) -> Result<Announcement<'_>, ClassicError> {
        if record.len() > ANNOUNCEMENT_LEN {
            return Err(ClassicError::TooLong {
                limit: ANNOUNCEMENT_LEN,
                got: record.len(),
            });
        }
        if record.len() < ANNOUNCEMENT_LEN {
            return Err(ClassicError::TooShort {
                needed: ANNOUNCEMENT_LEN,
                got: record.len(),
            });
        }
        let field = &record[8..];
        let end = field
            .iter()
            .position(|&b| b == 0)
            .ok_or(ClassicError::Unterminated)?;
        Ok(Announcement {
            status: u32::from_le_bytes([record[0], record[1], record[2], record[3]]),
            utilization: u32::from_le_bytes([record[4], record[5], record[6], record[7]]),
            pipe_name: &field[..end],
        })
    }
}

/// Text for a NUL-terminated field of room `limit` + 1.
fn check_text(text: &[u8], limit: usize) -> Result<(), ClassicError> {
    if text.len() > limit {
        return Err(ClassicError::TooLong {
            limit,
            got: text.len(),
        });
    }
    if text.contains(&0) {
        return Err(ClassicError::NulInside);
    }
    Ok(())
}

/// The little-endian `i32` at the start of `bytes`.
fn read_i32(bytes: &[u8]) -> Option<i32> {
    let field: [u8; 4] = bytes.get(..LENGTH_FIELD_LEN)?.try_into().ok()?;
    Some(i32::from_le_bytes(field))
}
