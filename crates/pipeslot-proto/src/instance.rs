//! What a name's owner and a process that added an instance to it say to
//! each other (instances of one name in several processes, S19, S21-S31).
//!
//! A process that creates an instance of a name another process owns
//! connects to the name's socket with an [`OpenMode::Instance`] hello;
//! after [`ServerHello::InstanceAdded`] that connection *is* the instance,
//! as the owner sees it. The owner keeps binding clients in the order of
//! S31 over all instances, its own and the others'; when it binds one to
//! the other process's instance it answers the client itself, then hands
//! the client's connection over with a [`Bound`] record. The other process
//! says [`ToOwner::Listen`] when its instance listens again
//! (ConnectNamedPipe after DisconnectNamedPipe) and closes the connection
//! when it closes the instance.
//!
//! # Byte format
//!
//! Owner to instance, one record per bound client, sent with two
//! descriptors attached (`SCM_RIGHTS`): the client's stream, then its
//! credit page. Integers are little-endian.
//!
//! ```text
//! size  field
//! 1     tag            1 Bound
//! 4     client pid     u32, from the client's socket credentials
//! 4     client uid     u32
//! 4     client gid     u32
//! 4     instances      u32, the name's instances when it was bound
//! s     computer name  u16 length, then at most 255 bytes of UTF-8
//! ```
//!
//! Instance to owner: single bytes, 1 Listen.
//!
//! [`OpenMode::Instance`]: crate::handshake::OpenMode::Instance
//! [`ServerHello::InstanceAdded`]: crate::handshake::ServerHello::InstanceAdded
//!
//! ```
//! use pipeslot_proto::instance::Bound;
//!
//! let bound = Bound { pid: 7, uid: 1000, gid: 1000, instances: 2, computer_name: "hosta".into() };
//! let bytes = bound.encode().unwrap();
//! assert_eq!(Bound::decode(&bytes[..3]), Ok(None));
//! assert_eq!(Bound::decode(&bytes), Ok(Some((bound, bytes.len()))));
//! ```

use crate::handshake::{HandshakeError, MAX_COMPUTER_NAME_LEN};

/// The longest [`Bound`] record, in bytes.
pub const MAX_BOUND_LEN: usize = 1 + 16 + 2 + MAX_COMPUTER_NAME_LEN;

/// A client bound to the instance: who it is (the owner took this from the
/// client's socket; the computer name is the gateway's authenticated host
/// for a remote client, else the owner's).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bound {
    /// The client's process id.
    pub pid: u32,
    /// The client's uid.
    pub uid: u32,
    /// The client's gid.
    pub gid: u32,
    /// How many instances the name had when the client was bound.
    pub instances: u32,
    /// GetNamedPipeClientComputerName's answer; at most
    /// [`MAX_COMPUTER_NAME_LEN`] bytes.
    pub computer_name: String,
}

const TAG_BOUND: u8 = 1;
const LISTEN: u8 = 1;

impl Bound {
    /// The record as bytes; fails for a computer name over its limit or
    /// with NUL.
    pub fn encode(&self) -> Result<Vec<u8>, HandshakeError> {
        let name = self.computer_name.as_bytes();
        if name.len() > MAX_COMPUTER_NAME_LEN {
            return Err(HandshakeError::StringTooLong {
                field: "computer_name",
                len: name.len(),
                max: MAX_COMPUTER_NAME_LEN,
            });
        }
        if name.contains(&0) {
            return Err(HandshakeError::BadString("computer_name"));
        }
        let mut out = Vec::with_capacity(19 + name.len());
        out.push(TAG_BOUND);
        for word in [self.pid, self.uid, self.gid, self.instances] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        Ok(out)
    }

    /// Decodes a record from the start of `buf`: the record and the bytes
    /// it took, `Ok(None)` when more bytes are needed, or an error as soon
    /// as the bytes prove it bad. Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<Option<(Bound, usize)>, HandshakeError> {
        let Some(&tag) = buf.first() else {
            return Ok(None);
        };
        if tag != TAG_BOUND {
            return Err(HandshakeError::BadValue("tag"));
        }
        let Some(fixed) = buf.get(1..19) else {
            return Ok(None);
        };
        let word =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let len = usize::from(u16::from_le_bytes([fixed[16], fixed[17]]));
        if len > MAX_COMPUTER_NAME_LEN {
            return Err(HandshakeError::StringTooLong {
                field: "computer_name",
                len,
                max: MAX_COMPUTER_NAME_LEN,
            });
        }
        let Some(name) = buf.get(19..19 + len) else {
            return Ok(None);
        };
        let computer_name = std::str::from_utf8(name)
            .ok()
            .filter(|name| !name.contains('\0'))
            .ok_or(HandshakeError::BadString("computer_name"))?
            .to_string();
        let bound = Bound {
            pid: word(0),
            uid: word(4),
            gid: word(8),
            instances: word(12),
            computer_name,
        };
        Ok(Some((bound, 19 + len)))
    }
}

/// What the process serving an instance tells the name's owner.
///
/// ```
/// use pipeslot_proto::instance::ToOwner;
///
/// assert_eq!(ToOwner::decode(ToOwner::Listen.encode()), Some(ToOwner::Listen));
/// assert_eq!(ToOwner::decode(0), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ToOwner {
    /// The instance listens again (ConnectNamedPipe after
    /// DisconnectNamedPipe): bind the next client to it, behind the
    /// instances already listening (S31).
    Listen,
}

impl ToOwner {
    /// The byte on the wire.
    pub fn encode(self) -> u8 {
        match self {
            ToOwner::Listen => LISTEN,
        }
    }

    /// The message of a byte, or `None` for a byte that means nothing.
    pub fn decode(byte: u8) -> Option<ToOwner> {
        (byte == LISTEN).then_some(ToOwner::Listen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_record_round_trips_and_refuses_bad_names() {
        let bound = Bound {
            pid: 1,
            uid: 2,
            gid: 3,
            instances: 4,
            computer_name: "x".repeat(MAX_COMPUTER_NAME_LEN),
        };
        let bytes = bound.encode().unwrap();
        assert_eq!(bytes.len(), MAX_BOUND_LEN);
        for cut in 0..bytes.len() {
            assert_eq!(Bound::decode(&bytes[..cut]), Ok(None));
        }
        assert_eq!(
            Bound::decode(&bytes),
            Ok(Some((bound.clone(), bytes.len())))
        );
        let mut long = bytes.clone();
        long[17..19].copy_from_slice(&256u16.to_le_bytes());
        assert!(Bound::decode(&long).is_err());
        let mut nul = bytes;
        nul[19] = 0;
        assert_eq!(
            Bound::decode(&nul),
            Err(HandshakeError::BadString("computer_name"))
        );
        assert_eq!(Bound::decode(&[9]), Err(HandshakeError::BadValue("tag")));
    }
}
