//! The lock-file record: who owns a pipe or mailslot name.
//!
//! The owner of a name holds an exclusive `flock` on `<hash>.lock` in its
//! namespace directory and writes this record into it, so that anybody can
//! learn the original (unhashed) name, the owner's pid and uid and the
//! parameters the object was created with.
//!
//! The format is line-oriented UTF-8 text, chosen so that `cat` is enough to
//! read it:
//!
//! ```text
//! pipeslot-lock 1
//! kind=pipe
//! name=\\.\pipe\Server
//! pid=4242
//! uid=1000
//! max_instances=4
//! ```
//!
//! The first line is the magic and version. Then come `key=value` lines: the
//! four required keys first, in this order, then any parameters. Keys are
//! `[a-z0-9_]+`; in values the bytes `%`, LF, CR and NUL are written as
//! `%25`, `%0A`, `%0D`, `%00`. A record is at most [`MAX_RECORD_LEN`] bytes.
//!
//! ```
//! use pipeslot_proto::{LockRecord, ObjectKind};
//!
//! let record = LockRecord {
//!     kind: ObjectKind::Pipe,
//!     name: r"\\.\pipe\Server".to_string(),
//!     pid: 4242,
//!     uid: 1000,
//!     params: vec![("max_instances".to_string(), "4".to_string())],
//! };
//! let bytes = record.encode().unwrap();
//! assert_eq!(LockRecord::decode(&bytes).unwrap(), record);
//! ```
//!
//! # Live status
//!
//! A record may end with a `status` parameter: counters the owner keeps
//! current while it runs (for a pipe: instances, listening instances,
//! connected instances; for a mailslot: queued messages), so that
//! `pipeslot ls` shows them without asking each owner. Its value has a
//! fixed width — every number is ten decimal digits, space-separated —
//! so the owner rewrites it in place with one `pwrite(2)` and the record
//! never changes length. The first and last numbers are a sequence number
//! the owner bumps on every update; a reader that sees them differ has
//! read in the middle of an update and reads again ([`decode_status`]).
//!
//! ```
//! use pipeslot_proto::lock_record::{decode_status, encode_status};
//!
//! let value = encode_status(7, &[3, 1, 2]);
//! assert_eq!(value, "0000000007 0000000003 0000000001 0000000002 0000000007");
//! assert_eq!(decode_status(&value), Some(vec![3, 1, 2]));
//! // Torn: the owner was half-way through update 8.
//! let torn = "0000000008 0000000004 0000000001 0000000002 0000000007";
//! assert_eq!(decode_status(torn), None);
//! ```

use std::fmt;

/// The largest record accepted, in bytes.
pub const MAX_RECORD_LEN: usize = 8192;

const MAGIC_LINE: &str = "pipeslot-lock 1";

/// The key of the live-status parameter (see the [module docs](self)).
pub const STATUS_KEY: &str = "status";

/// The width of one number of a status value, in bytes.
const STATUS_DIGITS: usize = 10;

/// The value of a `status` parameter: `seq`, the `values`, `seq` again,
/// each as ten decimal digits, separated by single spaces. Its length
/// depends only on how many values there are.
pub fn encode_status(seq: u32, values: &[u32]) -> String {
    let mut out = String::with_capacity((values.len() + 2) * (STATUS_DIGITS + 1));
    for (index, number) in std::iter::once(seq)
        .chain(values.iter().copied())
        .chain(std::iter::once(seq))
        .enumerate()
    {
        if index > 0 {
            out.push(' ');
        }
        // Ten digits, leading zeros (`{:010}` without its formatter: this
        // runs on every connect and disconnect).
        let mut digits = [b'0'; STATUS_DIGITS];
        let mut rest = number;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
    out
}

/// The values of a `status` parameter, or `None` when it is malformed or
/// torn (its two sequence numbers differ: read again).
pub fn decode_status(value: &str) -> Option<Vec<u32>> {
    let numbers = value
        .split(' ')
        .map(|word| {
            (word.len() == STATUS_DIGITS && word.bytes().all(|b| b.is_ascii_digit()))
                .then(|| word.parse::<u32>().ok())
                .flatten()
        })
        .collect::<Option<Vec<u32>>>()?;
    match numbers.as_slice() {
        [first, values @ .., last] if first == last => Some(values.to_vec()),
        _ => None,
    }
}

/// What kind of object a name belongs to.
///
/// ```
/// use pipeslot_proto::ObjectKind;
///
/// assert_eq!(ObjectKind::Pipe.as_str(), "pipe");
/// assert_eq!(ObjectKind::Mailslot.to_string(), "mailslot");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A named pipe.
    Pipe,
    /// A mailslot.
    Mailslot,
}

impl ObjectKind {
    /// The word used for this kind in records, paths and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Pipe => "pipe",
            ObjectKind::Mailslot => "mailslot",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata of a name's owner.
///
/// ```
/// use pipeslot_proto::{LockRecord, ObjectKind};
///
/// let record = LockRecord {
///     kind: ObjectKind::Mailslot,
///     name: "\\\\.\\mailslot\\odd\nname".to_string(),
///     pid: 1,
///     uid: 0,
///     params: vec![("max_message_size".to_string(), "400".to_string())],
/// };
/// let text = String::from_utf8(record.encode().unwrap()).unwrap();
/// assert!(text.contains("name=\\\\.\\mailslot\\odd%0Aname\n")); // one line per key
/// assert_eq!(LockRecord::decode(text.as_bytes()).unwrap().param("max_message_size"), Some("400"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    /// Pipe or mailslot.
    pub kind: ObjectKind,
    /// The name as the owner spelled it.
    pub name: String,
    /// The owning process.
    pub pid: u32,
    /// The owning user.
    pub uid: u32,
    /// Creation parameters, in the owner's order (`key`, `value`).
    pub params: Vec<(String, String)>,
}

/// Why a record could not be encoded or decoded.
///
/// ```
/// use pipeslot_proto::{LockRecord, RecordError};
///
/// assert_eq!(LockRecord::decode(b"#!/bin/sh\n"), Err(RecordError::BadMagic));
/// let no_pid = b"pipeslot-lock 1\nkind=pipe\nname=x\nuid=0\n";
/// assert_eq!(LockRecord::decode(no_pid), Err(RecordError::MissingKey("pid")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The record is longer than [`MAX_RECORD_LEN`].
    TooLong,
    /// The record is not UTF-8.
    NotUtf8,
    /// The first line is not the expected magic and version.
    BadMagic,
    /// A line is not `key=value`, or a key is not `[a-z0-9_]+`.
    BadLine(usize),
    /// A `%` escape is malformed.
    BadEscape(usize),
    /// A required key is missing or out of place.
    MissingKey(&'static str),
    /// A required key has a value of the wrong form.
    BadValue(&'static str),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::TooLong => write!(f, "lock record longer than {MAX_RECORD_LEN} bytes"),
            RecordError::NotUtf8 => f.write_str("lock record is not UTF-8"),
            RecordError::BadMagic => f.write_str("not a pipeslot lock record (bad first line)"),
            RecordError::BadLine(n) => write!(f, "lock record line {n} is not key=value"),
            RecordError::BadEscape(n) => write!(f, "lock record line {n} has a bad % escape"),
            RecordError::MissingKey(k) => write!(f, "lock record lacks `{k}`"),
            RecordError::BadValue(k) => write!(f, "lock record has a malformed `{k}`"),
        }
    }
}

impl std::error::Error for RecordError {}

impl LockRecord {
    /// The record as bytes. Fails only when a parameter key is not
    /// `[a-z0-9_]+` (reported as [`RecordError::BadLine`] with the 1-based
    /// line it would have been on) or the result exceeds [`MAX_RECORD_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = String::with_capacity(128);
        out.push_str(MAGIC_LINE);
        out.push('\n');
        push_pair(&mut out, "kind", self.kind.as_str());
        push_pair(&mut out, "name", &self.name);
        push_pair(&mut out, "pid", &self.pid.to_string());
        push_pair(&mut out, "uid", &self.uid.to_string());
        for (index, (key, value)) in self.params.iter().enumerate() {
            if !is_key(key) {
                return Err(RecordError::BadLine(index + 6));
            }
            push_pair(&mut out, key, value);
        }
        if out.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLong);
        }
        Ok(out.into_bytes())
    }

    /// Parses a record. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<LockRecord, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLong);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| RecordError::NotUtf8)?;
        let mut lines = text.split_terminator('\n');
        if lines.next() != Some(MAGIC_LINE) {
            return Err(RecordError::BadMagic);
        }
        let mut pairs = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let (key, value) = line.split_once('=').ok_or(RecordError::BadLine(number))?;
            if !is_key(key) {
                return Err(RecordError::BadLine(number));
            }
            pairs.push((key.to_string(), unescape(value, number)?));
        }
        let mut pairs = pairs.into_iter();
        let mut required = |key: &'static str| match pairs.next() {
            Some((k, v)) if k == key => Ok(v),
            _ => Err(RecordError::MissingKey(key)),
        };
        let kind = match required("kind")?.as_str() {
            "pipe" => ObjectKind::Pipe,
            "mailslot" => ObjectKind::Mailslot,
            _ => return Err(RecordError::BadValue("kind")),
        };
        let name = required("name")?;
        let pid = parse_id(&required("pid")?).ok_or(RecordError::BadValue("pid"))?;
        let uid = parse_id(&required("uid")?).ok_or(RecordError::BadValue("uid"))?;
        Ok(LockRecord {
            kind,
            name,
            pid,
            uid,
            params: pairs.collect(),
        })
    }

    /// The value of parameter `key`, if the record has it.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The live status values, when the record has a well-formed,
    /// untorn `status` parameter ([`decode_status`]).
    pub fn status(&self) -> Option<Vec<u32>> {
        decode_status(self.param(STATUS_KEY)?)
    }
}

fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push('=');
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out.push('\n');
}

fn unescape(value: &str, line: usize) -> Result<String, RecordError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest
            .get(at + 1..at + 3)
            .ok_or(RecordError::BadEscape(line))?;
        out.push(match escape {
            "25" => '%',
            "0A" => '\n',
            "0D" => '\r',
            "00" => '\0',
            _ => return Err(RecordError::BadEscape(line)),
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn parse_id(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(name: &str) -> LockRecord {
        LockRecord {
            kind: ObjectKind::Mailslot,
            name: name.to_string(),
            pid: 1,
            uid: 0,
            params: vec![("max_message_size".into(), "424".into())],
        }
    }

    #[test]
    fn escapes_survive_a_round_trip() {
        let r = record("a%b\nc\rd\0e%0A");
        assert_eq!(LockRecord::decode(&r.encode().unwrap()).unwrap(), r);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(LockRecord::decode(b""), Err(RecordError::BadMagic));
        assert_eq!(
            LockRecord::decode(b"pipeslot-lock 1\nkind=pipe\n"),
            Err(RecordError::MissingKey("name"))
        );
        assert_eq!(
            LockRecord::decode(b"pipeslot-lock 1\nkind=fifo\nname=x\npid=1\nuid=1\n"),
            Err(RecordError::BadValue("kind"))
        );
        assert_eq!(
            LockRecord::decode(b"pipeslot-lock 1\nkind=pipe\nname=%4\npid=1\nuid=1\n"),
            Err(RecordError::BadEscape(3))
        );
        assert_eq!(
            LockRecord::decode(b"pipeslot-lock 1\nkind=pipe\nname=x\npid=99999999999\nuid=1\n"),
            Err(RecordError::BadValue("pid"))
        );
        assert_eq!(
            LockRecord::decode(&vec![b'x'; MAX_RECORD_LEN + 1]),
            Err(RecordError::TooLong)
        );
    }

    #[test]
    fn bad_parameter_key_is_refused_at_encode() {
        let mut r = record("x");
        r.params.push(("Bad Key".into(), "1".into()));
        assert_eq!(r.encode(), Err(RecordError::BadLine(7)));
    }

    #[test]
    fn status_has_a_fixed_width_and_detects_tearing() {
        let short = encode_status(0, &[0, 0]);
        let long = encode_status(u32::MAX, &[u32::MAX, 17]);
        assert_eq!(short.len(), long.len());
        assert_eq!(decode_status(&long), Some(vec![u32::MAX, 17]));
        assert_eq!(decode_status(&encode_status(3, &[])), Some(vec![]));
        for bad in [
            "",
            "1 2",
            "0000000001",
            "00000000x1 0000000001",
            "99999999999 1 99999999999",
        ] {
            assert_eq!(decode_status(bad), None, "{bad:?}");
        }
        let mut r = record("x");
        r.params.push((STATUS_KEY.into(), encode_status(2, &[5])));
        assert_eq!(
            LockRecord::decode(&r.encode().unwrap()).unwrap().status(),
            Some(vec![5])
        );
    }

    proptest! {
        #[test]
        fn status_round_trips(seq: u32, values in proptest::collection::vec(any::<u32>(), 0..6)) {
            prop_assert_eq!(decode_status(&encode_status(seq, &values)), Some(values));
        }

        #[test]
        fn any_record_round_trips(name in any::<String>(), pid: u32, uid: u32,
                                   params in proptest::collection::vec(("[a-z0-9_]{1,12}", any::<String>()), 0..4)) {
            let r = LockRecord { kind: ObjectKind::Pipe, name, pid, uid, params };
            if let Ok(bytes) = r.encode() {
                prop_assert_eq!(LockRecord::decode(&bytes).unwrap(), r);
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = LockRecord::decode(&bytes);
        }
    }
}
