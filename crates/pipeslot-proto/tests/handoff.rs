//! The handoff manifest (what `CreateProcessA` hands a child), through its
//! public surface: every manifest round-trips, and no bytes make the
//! decoder panic or accept a non-canonical form.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use pipeslot_proto::handoff::{
    Chunk, ConnectionState, EndState, Entry, HandoffError, InstanceState, MailslotState, Manifest,
    ObjectState, PipeEndState, MAX_FDS,
};

fn connection() -> impl Strategy<Value = ConnectionState> {
    (
        prop_oneof![
            Just(EndState::Open),
            Just(EndState::PeerClosed),
            Just(EndState::Disconnected)
        ],
        any::<[u64; 4]>(),
        vec(any::<(u64, u64)>(), 0..3),
        vec(
            (any::<u64>(), any::<bool>(), vec(any::<u8>(), 0..40)).prop_map(
                |(offset, end_of_message, data)| Chunk {
                    offset,
                    end_of_message,
                    data,
                },
            ),
            0..4,
        ),
        vec(any::<u8>(), 0..40),
    )
        .prop_map(
            |(end, [consumed, received, sent, peer_consumed], pending, inbound, undecoded)| {
                ConnectionState {
                    end,
                    consumed,
                    received,
                    sent,
                    peer_consumed,
                    pending,
                    inbound,
                    undecoded,
                }
            },
        )
}

fn pipe_end() -> impl Strategy<Value = PipeEndState> {
    (
        "[^\u{0}]{0,40}",
        any::<[bool; 7]>(),
        any::<[u32; 8]>(),
        "[^\u{0}]{0,20}",
        connection(),
    )
        .prop_map(
            |(name, flags, numbers, peer_computer_name, connection)| PipeEndState {
                name,
                server_end: flags[0],
                message_type: flags[1],
                message_read: flags[2],
                nowait: flags[3],
                can_read: flags[4],
                can_write: flags[5],
                can_set_state: flags[6],
                in_buffer_size: numbers[0],
                out_buffer_size: numbers[1],
                max_instances: numbers[2],
                out_quota: numbers[3],
                own_pid: numbers[4],
                peer_pid: numbers[5],
                peer_uid: numbers[6],
                peer_gid: numbers[7],
                peer_computer_name,
                connection,
            },
        )
}

fn object() -> impl Strategy<Value = ObjectState> {
    prop_oneof![
        (any::<bool>(), any::<u32>())
            .prop_map(|(nowait, size)| ObjectState::AnonReader { nowait, size }),
        (any::<bool>(), any::<u32>())
            .prop_map(|(nowait, size)| ObjectState::AnonWriter { nowait, size }),
        any::<(bool, bool)>().prop_map(|(read, write)| ObjectState::File { read, write }),
        pipe_end().prop_map(ObjectState::PipeEnd),
        ("[^\u{0}]{0,40}", any::<[bool; 6]>(), any::<[u32; 4]>()).prop_map(
            |(name, [message_type, message_read, nowait, inbound, outbound, listening], sizes)| {
                ObjectState::Instance(InstanceState {
                    name,
                    message_type,
                    message_read,
                    nowait,
                    inbound,
                    outbound,
                    listening,
                    in_buffer_size: sizes[0],
                    out_buffer_size: sizes[1],
                    max_instances: sizes[2],
                    default_timeout_ms: sizes[3],
                })
            }
        ),
        (
            "[^\u{0}]{0,40}",
            any::<u32>(),
            option::of(any::<u64>()),
            any::<bool>(),
            vec(vec(any::<u8>(), 0..30), 0..4)
        )
            .prop_map(
                |(name, max_message_size, read_timeout_ms, check_sender, queued)| {
                    ObjectState::Mailslot(MailslotState {
                        name,
                        max_message_size,
                        read_timeout_ms,
                        check_sender,
                        queued,
                    })
                }
            ),
        ("[^\u{0}]{0,40}", any::<u32>(), any::<bool>()).prop_map(|(name, limit, broadcast)| {
            ObjectState::MailslotWriter {
                name,
                limit,
                broadcast,
            }
        }),
    ]
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        any::<[Option<u64>; 3]>(),
        vec(
            (any::<u64>(), vec(0..i32::MAX, 0..=MAX_FDS), object()).prop_map(
                |(handle, fds, object)| Entry {
                    handle,
                    fds,
                    object,
                },
            ),
            0..5,
        ),
    )
        .prop_map(|(std_handles, entries)| Manifest {
            std_handles,
            entries,
        })
}

proptest! {
    #[test]
    fn every_manifest_round_trips(manifest in manifest()) {
        let bytes = manifest.encode();
        prop_assert_eq!(Manifest::decode(&bytes), Ok(manifest));
    }

    #[test]
    fn any_cut_short_manifest_is_refused(manifest in manifest(), cut in any::<prop::sample::Index>()) {
        let bytes = manifest.encode();
        let cut = cut.index(bytes.len());
        prop_assert!(Manifest::decode(&bytes[..cut]).is_err());
    }

    #[test]
    fn decoded_bytes_re_encode_to_themselves(bytes in vec(any::<u8>(), 0..200)) {
        let mut with_prefix = b"PSHO\x01\x00".to_vec();
        with_prefix.extend_from_slice(&bytes);
        for candidate in [bytes, with_prefix] {
            if let Ok(manifest) = Manifest::decode(&candidate) {
                prop_assert_eq!(manifest.encode(), candidate);
            }
        }
    }
}

#[test]
fn foreign_bytes_and_other_versions_are_refused() {
    assert_eq!(Manifest::decode(b"GET /"), Err(HandoffError::BadMagic));
    assert_eq!(
        Manifest::decode(b"PSHO\x02\x00"),
        Err(HandoffError::UnsupportedVersion(2))
    );
    let mut trailing = Manifest::default().encode();
    trailing.push(0);
    assert_eq!(
        Manifest::decode(&trailing),
        Err(HandoffError::TrailingBytes(1))
    );
}

#[test]
fn a_non_canonical_boolean_is_refused() {
    let manifest = Manifest {
        std_handles: [None; 3],
        entries: vec![Entry {
            handle: 8,
            fds: vec![5],
            object: ObjectState::AnonReader {
                nowait: true,
                size: 0,
            },
        }],
    };
    let mut bytes = manifest.encode();
    // The nowait byte follows the handle, the fd count, the fd and the tag.
    let at = bytes.len() - 5;
    assert_eq!(bytes[at], 1);
    bytes[at] = 2;
    assert_eq!(
        Manifest::decode(&bytes),
        Err(HandoffError::BadValue("nowait"))
    );
}
