//! The connection handshake of named pipes, through its public surface.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use pipeslot_proto::frame::{encode_message, Frame, FrameDecoder};
use pipeslot_proto::handshake::{
    Access, ClientHello, HandshakeError, InstanceRequest, OpenMode, PipeType, RemotePrincipal,
    ServerHello, WaitTimeout, MAX_COMPUTER_NAME_LEN, MAX_HELLO_LEN, MAX_HOST_LEN, MAX_SUBJECT_LEN,
    PROTOCOL_VERSION,
};

fn client_hello() -> impl Strategy<Value = ClientHello> {
    let timeout = prop_oneof![
        Just(WaitTimeout::Default),
        Just(WaitTimeout::Forever),
        any::<u32>().prop_map(WaitTimeout::Millis),
    ];
    let mode = prop_oneof![
        Just(OpenMode::Open),
        timeout.prop_map(|timeout| OpenMode::Wait { timeout }),
    ];
    let remote = option::of(
        ("[^\u{0}]{0,60}", "[^\u{0}]{0,250}")
            .prop_map(|(host, subject)| RemotePrincipal { host, subject }),
    );
    (
        any::<(bool, bool)>(),
        mode,
        any::<u32>(),
        "[^\u{0}]{0,60}",
        remote,
    )
        .prop_map(
            |((read, write), mode, client_pid, computer_name, remote)| ClientHello {
                access: Access { read, write },
                mode,
                client_pid,
                computer_name,
                remote,
            },
        )
}

/// An instance hello (S21): access 0, no remote principal, the
/// instance's parameters.
fn instance_hello() -> impl Strategy<Value = ClientHello> {
    let direction = prop_oneof![Just((true, false)), Just((false, true)), Just((true, true))];
    (
        direction,
        any::<(bool, bool, bool, u32, u32)>(),
        1u32..=255,
        any::<u32>(),
        "[^\u{0}]{0,60}",
    )
        .prop_map(
            |(
                (inbound, outbound),
                (message, first, bound, in_quota, out_quota),
                max,
                pid,
                computer_name,
            )| {
                ClientHello {
                    access: Access::default(),
                    mode: OpenMode::Instance(InstanceRequest {
                        inbound,
                        outbound,
                        pipe_type: if message {
                            PipeType::Message
                        } else {
                            PipeType::Byte
                        },
                        in_quota,
                        out_quota,
                        max_instances: max,
                        first,
                        bound,
                    }),
                    client_pid: pid,
                    computer_name,
                    remote: None,
                }
            },
        )
}

proptest! {
    #[test]
    fn instance_hellos_round_trip(hello in instance_hello()) {
        let bytes = hello.encode().unwrap();
        prop_assert_eq!(ClientHello::decode(&bytes), Ok(Some((hello.clone(), bytes.len()))));
        // Access or a remote principal do not go with an instance.
        let mut bad = hello.clone();
        bad.access.read = true;
        prop_assert!(bad.encode().is_err());
        // Every byte of the parameters is checked: a shorter body is short.
        prop_assert!(ClientHello::decode(&bytes[..bytes.len() - 1]).unwrap().is_none());
    }
}

fn server_hello() -> impl Strategy<Value = ServerHello> {
    let connected = (any::<u32>(), any::<bool>(), any::<[u32; 5]>()).prop_map(
        |(
            instance,
            message,
            [server_pid, in_quota, out_quota, max_instances, default_timeout_ms],
        )| {
            ServerHello::Connected {
                instance,
                pipe_type: if message {
                    PipeType::Message
                } else {
                    PipeType::Byte
                },
                server_pid,
                in_quota,
                out_quota,
                max_instances,
                default_timeout_ms,
            }
        },
    );
    prop_oneof![
        connected,
        Just(ServerHello::Busy),
        Just(ServerHello::Available),
        Just(ServerHello::TimedOut),
        Just(ServerHello::AccessDenied),
        any::<u16>().prop_map(|supported| ServerHello::VersionMismatch { supported }),
        Just(ServerHello::LimitsExceeded),
        Just(ServerHello::NoInstance),
        any::<(u32, u32)>().prop_map(|(instance, instances)| ServerHello::InstanceAdded {
            instance,
            instances
        }),
    ]
}

fn local(mode: OpenMode) -> ClientHello {
    ClientHello {
        access: Access {
            read: true,
            write: true,
        },
        mode,
        client_pid: 42,
        computer_name: ".".into(),
        remote: None,
    }
}

fn bad<T>(field: &'static str) -> Result<T, HandshakeError> {
    Err(HandshakeError::BadValue(field))
}

/// A version-1 hello around an arbitrary body.
fn raw_hello(body: &[u8]) -> Vec<u8> {
    let mut out = b"PSLP\x01\x00".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The client body of `local(Open)` up to (not including) the computer name.
fn open_body_head() -> Vec<u8> {
    let mut body = vec![0b11, 1, 0, 0, 0, 0, 0];
    body.extend_from_slice(&42u32.to_le_bytes());
    body
}

proptest! {
    // T10: decode(encode(x)) == x for client hellos, no prefix is a hello,
    // and bytes after the hello (the first frames) are left alone.
    #[test]
    fn client_hello_round_trips_split_at_every_byte(hello in client_hello(), tail in vec(any::<u8>(), 0..8)) {
        let mut bytes = hello.encode().unwrap();
        let len = bytes.len();
        for cut in 0..len {
            prop_assert_eq!(ClientHello::decode(&bytes[..cut]), Ok(None), "prefix of {} bytes", cut);
        }
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(ClientHello::decode(&bytes), Ok(Some((hello, len))));
    }

    // T10: the same for server hellos.
    #[test]
    fn server_hello_round_trips_split_at_every_byte(hello in server_hello(), tail in vec(any::<u8>(), 0..8)) {
        let mut bytes = hello.encode();
        let len = bytes.len();
        for cut in 0..len {
            prop_assert_eq!(ServerHello::decode(&bytes[..cut]), Ok(None), "prefix of {} bytes", cut);
        }
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(ServerHello::decode(&bytes), Ok(Some((hello, len))));
    }

    // T10: garbage is an error or a hello, never a panic, and what decodes
    // re-encodes to the bytes it came from.
    #[test]
    fn garbage_never_panics(bytes in vec(any::<u8>(), 0..80)) {
        if let Ok(Some((hello, used))) = ClientHello::decode(&bytes) {
            prop_assert_eq!(hello.encode().unwrap(), &bytes[..used]);
        }
        if let Ok(Some((hello, used))) = ServerHello::decode(&bytes) {
            prop_assert_eq!(hello.encode(), &bytes[..used]);
        }
    }

    // T10: the same behind a valid prefix, where the body parsers are
    // reached.
    #[test]
    fn garbage_bodies_never_panic(body in vec(any::<u8>(), 0..80)) {
        let bytes = raw_hello(&body);
        match ClientHello::decode(&bytes) {
            Ok(Some((hello, used))) => prop_assert_eq!(hello.encode().unwrap(), &bytes[..used]),
            Ok(None) => prop_assert!(false, "a whole hello is never incomplete"),
            Err(_) => {}
        }
        match ServerHello::decode(&bytes) {
            Ok(Some((hello, used))) => prop_assert_eq!(hello.encode(), &bytes[..used]),
            Ok(None) => prop_assert!(false, "a whole hello is never incomplete"),
            Err(_) => {}
        }
    }
}

// T10: a wrong magic is refused at the first mismatching byte, without
// waiting for four; a matching prefix waits.
#[test]
fn bad_magic_is_refused_at_once() {
    assert_eq!(ClientHello::decode(b""), Ok(None));
    assert_eq!(ClientHello::decode(b"PSL"), Ok(None));
    assert_eq!(ClientHello::decode(b"X"), Err(HandshakeError::BadMagic));
    assert_eq!(ClientHello::decode(b"PSLQ"), Err(HandshakeError::BadMagic));
    assert_eq!(ServerHello::decode(b"PX"), Err(HandshakeError::BadMagic));
    // Zeroed memory is not a hello.
    assert_eq!(
        ClientHello::decode(&[0; 1024]),
        Err(HandshakeError::BadMagic)
    );
    // Frames sent without a hello are not a hello either.
    let mut frames = Vec::new();
    Frame::Disconnect.encode(&mut frames).unwrap();
    assert_eq!(ClientHello::decode(&frames), Err(HandshakeError::BadMagic));
}

// T10: an unknown version is reported from the 6 bytes of magic and
// version, so the server can answer VersionMismatch, which any client
// decodes.
#[test]
fn unknown_version_is_reported_for_a_version_mismatch_answer() {
    assert_eq!(ClientHello::decode(b"PSLP\x01"), Ok(None));
    for version in [0u16, 2, 0x0100, u16::MAX] {
        let mut bytes = b"PSLP".to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        assert_eq!(
            ClientHello::decode(&bytes),
            Err(HandshakeError::UnsupportedVersion(version))
        );
        assert_eq!(
            ServerHello::decode(&bytes),
            Err(HandshakeError::UnsupportedVersion(version))
        );
    }
    let answer = ServerHello::VersionMismatch {
        supported: PROTOCOL_VERSION,
    };
    let bytes = answer.encode();
    assert_eq!(bytes, b"PSLP\x01\x00\x03\x00\x00\x00\x06\x01\x00");
    assert_eq!(ServerHello::decode(&bytes), Ok(Some((answer, 13))));
}

// T9, T11: a length claiming more than MAX_HELLO_LEN is refused from the
// 10-byte prefix, before any of the body is waited for.
#[test]
fn oversized_hello_is_refused_from_the_prefix() {
    let prefix = |body_len: u32| {
        let mut bytes = b"PSLP\x01\x00".to_vec();
        bytes.extend_from_slice(&body_len.to_le_bytes());
        bytes
    };
    assert_eq!(
        ClientHello::decode(&prefix(u32::MAX)),
        Err(HandshakeError::TooLarge {
            len: 10 + u64::from(u32::MAX)
        })
    );
    let largest = (MAX_HELLO_LEN - 10) as u32;
    assert_eq!(ClientHello::decode(&prefix(largest)), Ok(None));
    assert_eq!(
        ServerHello::decode(&prefix(largest + 1)),
        Err(HandshakeError::TooLarge {
            len: MAX_HELLO_LEN as u64 + 1
        })
    );
}

// Version 1 bodies hold their fields exactly: no trailing bytes, no
// missing ones.
#[test]
fn bodies_are_exact() {
    let mut body = open_body_head();
    body.extend_from_slice(&[1, 0, b'.', 0]);
    assert_eq!(
        ClientHello::decode(&raw_hello(&body)),
        Ok(Some((local(OpenMode::Open), 10 + body.len())))
    );
    body.push(0);
    assert_eq!(
        ClientHello::decode(&raw_hello(&body)),
        Err(HandshakeError::TrailingBytes(1))
    );
    assert_eq!(
        ClientHello::decode(&raw_hello(&body[..body.len() - 2])),
        Err(HandshakeError::ShortBody)
    );
    assert_eq!(
        ClientHello::decode(&raw_hello(&[])),
        Err(HandshakeError::ShortBody)
    );
    assert_eq!(
        ServerHello::decode(&raw_hello(&[2, 0])),
        Err(HandshakeError::TrailingBytes(1))
    );
    assert_eq!(
        ServerHello::decode(&raw_hello(&[1, 0, 0, 0, 0, 1])),
        Err(HandshakeError::ShortBody)
    );
}

// T10: values this version does not define are refused, including the 0
// tags of zeroed memory and non-zero filler in unused fields.
#[test]
fn undefined_values_are_refused() {
    let client = |access: u8, mode: u8, kind: u8, millis: u32| {
        let mut body = vec![access, mode, kind];
        body.extend_from_slice(&millis.to_le_bytes());
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0]);
        ClientHello::decode(&raw_hello(&body))
    };
    assert_eq!(client(0b100, 1, 0, 0), bad("access"));
    assert_eq!(client(0, 0, 0, 0), bad("open_mode"));
    assert_eq!(client(0, 4, 1, 0), bad("open_mode"));
    // An instance hello (3) has no timeout either.
    assert_eq!(client(0, 3, 1, 0), bad("wait_timeout"));
    assert_eq!(client(0, 1, 1, 0), bad("wait_timeout"));
    assert_eq!(client(0, 1, 0, 5), bad("wait_timeout"));
    assert_eq!(client(0, 2, 0, 0), bad("wait_timeout"));
    assert_eq!(client(0, 2, 4, 0), bad("wait_timeout"));
    assert_eq!(client(0, 2, 1, 5), bad("wait_timeout"));
    assert_eq!(client(0, 2, 2, 5), bad("wait_timeout"));
    assert!(matches!(client(0, 2, 3, 5), Ok(Some(_))));

    let mut body = open_body_head();
    body.extend_from_slice(&[0, 0, 2]);
    assert_eq!(ClientHello::decode(&raw_hello(&body)), bad("remote"));

    for status in [0, 11, 255] {
        assert_eq!(ServerHello::decode(&raw_hello(&[status])), bad("status"));
    }
    let connected = |pipe_type: u8| {
        let mut body = vec![1, 0, 0, 0, 0, pipe_type];
        body.extend_from_slice(&[0; 20]);
        ServerHello::decode(&raw_hello(&body))
    };
    assert_eq!(connected(0), bad("pipe_type"));
    assert_eq!(connected(3), bad("pipe_type"));
    assert!(matches!(
        connected(2),
        Ok(Some((
            ServerHello::Connected {
                pipe_type: PipeType::Message,
                ..
            },
            36
        )))
    ));
}

// Strings: limits hold both ways, exactly at the limit is fine, NUL and
// invalid UTF-8 are refused.
#[test]
fn strings_are_bounded_utf8_without_nul() {
    let mut hello = local(OpenMode::Open);
    hello.computer_name = "é".repeat(MAX_COMPUTER_NAME_LEN / 2);
    hello.remote = Some(RemotePrincipal {
        host: "h".repeat(MAX_HOST_LEN),
        subject: "s".repeat(MAX_SUBJECT_LEN),
    });
    let bytes = hello.encode().unwrap();
    assert_eq!(
        ClientHello::decode(&bytes),
        Ok(Some((hello.clone(), bytes.len())))
    );

    let mut long = hello.clone();
    long.remote.as_mut().unwrap().subject.push('s');
    assert_eq!(
        long.encode(),
        Err(HandshakeError::StringTooLong {
            field: "subject",
            len: MAX_SUBJECT_LEN + 1,
            max: MAX_SUBJECT_LEN
        })
    );
    let mut long = hello.clone();
    long.remote.as_mut().unwrap().host.push('h');
    assert!(matches!(
        long.encode(),
        Err(HandshakeError::StringTooLong { field: "host", .. })
    ));

    let mut nul = hello.clone();
    nul.computer_name = "a\0b".into();
    assert_eq!(
        nul.encode(),
        Err(HandshakeError::BadString("computer_name"))
    );

    let with_name = |name: &[u8]| {
        let mut body = open_body_head();
        body.extend_from_slice(&(name.len() as u16).to_le_bytes());
        body.extend_from_slice(name);
        body.push(0);
        ClientHello::decode(&raw_hello(&body))
    };
    assert_eq!(
        with_name(b"a\0b"),
        Err(HandshakeError::BadString("computer_name"))
    );
    assert_eq!(
        with_name(b"\xff\xfe"),
        Err(HandshakeError::BadString("computer_name"))
    );
    assert_eq!(
        with_name(&[b'x'; 256]),
        Err(HandshakeError::StringTooLong {
            field: "computer_name",
            len: 256,
            max: MAX_COMPUTER_NAME_LEN
        })
    );
}

// S32: access 0 (neither read nor write) is a valid request.
#[test]
fn access_zero_round_trips() {
    let mut hello = local(OpenMode::Open);
    hello.access = Access::default();
    let bytes = hello.encode().unwrap();
    assert_eq!(bytes[10], 0);
    assert_eq!(ClientHello::decode(&bytes).unwrap().unwrap().0, hello);
}

// S39: WaitNamedPipe's timeout values, and the wire keeping Millis(0) and
// Millis(u32::MAX) distinct from Default and Forever.
#[test]
fn wait_timeouts_keep_their_meaning() {
    assert_eq!(WaitTimeout::from_win32(0), WaitTimeout::Default);
    assert_eq!(WaitTimeout::from_win32(u32::MAX), WaitTimeout::Forever);
    assert_eq!(WaitTimeout::from_win32(2000), WaitTimeout::Millis(2000));
    for timeout in [
        WaitTimeout::Default,
        WaitTimeout::Forever,
        WaitTimeout::Millis(0),
        WaitTimeout::Millis(u32::MAX),
    ] {
        let hello = local(OpenMode::Wait { timeout });
        let bytes = hello.encode().unwrap();
        assert_eq!(ClientHello::decode(&bytes).unwrap().unwrap().0, hello);
    }
}

// T22: a RemotePrincipal is carried as sent (the server decides whether to
// believe it, by the peer uid).
#[test]
fn remote_principal_is_carried() {
    let mut hello = local(OpenMode::Open);
    hello.computer_name = "hosta".into();
    hello.remote = Some(RemotePrincipal {
        host: "hosta".into(),
        subject: "CN=alice,O=domain".into(),
    });
    let bytes = hello.encode().unwrap();
    assert_eq!(ClientHello::decode(&bytes).unwrap().unwrap().0, hello);
}

// docs/design.md §4: the hello and the first frames may arrive in one read; the
// consumed count says where the frames start.
#[test]
fn frames_may_follow_the_hello_in_one_buffer() {
    let hello = ServerHello::Connected {
        instance: 0,
        pipe_type: PipeType::Message,
        server_pid: 4242,
        in_quota: 5000,
        out_quota: 6000,
        max_instances: 255,
        default_timeout_ms: 50,
    };
    let mut wire = hello.encode();
    encode_message(
        b"hello",
        pipeslot_proto::frame::DEFAULT_MAX_FRAME,
        &mut wire,
    );
    let (decoded, used) = ServerHello::decode(&wire).unwrap().unwrap();
    assert_eq!(decoded, hello);
    let (frame, _) = FrameDecoder::default()
        .decode(&wire[used..])
        .unwrap()
        .unwrap();
    assert_eq!(
        frame,
        Frame::Data {
            payload: b"hello",
            end_of_message: true
        }
    );
}

// The byte layout of the module docs, pinned.
#[test]
fn byte_layout_is_as_documented() {
    let hello = ClientHello {
        access: Access {
            read: false,
            write: true,
        },
        mode: OpenMode::Wait {
            timeout: WaitTimeout::Millis(0x0102),
        },
        client_pid: 0x0A0B_0C0D,
        computer_name: "pc".into(),
        remote: None,
    };
    assert_eq!(
        hello.encode().unwrap(),
        [
            b'P', b'S', b'L', b'P', 1, 0, 16, 0, 0, 0, // prefix
            0b10, 2, 3, 0x02, 0x01, 0, 0, // access, wait, millis
            0x0D, 0x0C, 0x0B, 0x0A, // pid
            2, 0, b'p', b'c', // computer name
            0,    // no remote principal
        ]
    );
    let connected = ServerHello::Connected {
        instance: 1,
        pipe_type: PipeType::Byte,
        server_pid: 2,
        in_quota: 3,
        out_quota: 4,
        max_instances: 5,
        default_timeout_ms: 6,
    };
    assert_eq!(
        connected.encode(),
        [
            b'P', b'S', b'L', b'P', 1, 0, 26, 0, 0, 0, // prefix
            1, 1, 0, 0, 0, 1, // Connected, instance, Byte
            2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0,
        ]
    );
}
