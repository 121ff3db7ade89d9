//! The frame codec of named-pipe connections, through its public surface.

use std::num::NonZeroU32;

use proptest::collection::vec;
use proptest::prelude::*;

use pipeslot_proto::frame::{
    encode_bytes, encode_message, Frame, FrameDecoder, FrameError, ProtocolViolation,
    DEFAULT_MAX_FRAME, HEADER_LEN,
};

/// An owned description of a valid frame, for strategies.
#[derive(Clone, Debug)]
enum Spec {
    Data(Vec<u8>, bool),
    Consumed(u64),
    Disconnect,
    Lost,
    Want,
    Reading(u32),
    Watch(bool),
    Discard(u64, u64),
    Pending(u64, u64),
    Committed(u64, u64),
}

impl Spec {
    fn frame(&self) -> Frame<'_> {
        match self {
            Spec::Data(payload, end_of_message) => Frame::Data {
                payload,
                end_of_message: *end_of_message,
            },
            Spec::Consumed(total) => Frame::Consumed { total: *total },
            Spec::Disconnect => Frame::Disconnect,
            Spec::Lost => Frame::Lost,
            Spec::Want => Frame::Want,
            Spec::Reading(bytes) => Frame::Reading { bytes: *bytes },
            Spec::Watch(on) => Frame::Watch { on: *on },
            Spec::Discard(start, end) => Frame::Discard {
                start: *start,
                end: *end,
            },
            Spec::Pending(start, end) => Frame::Pending {
                start: *start,
                end: *end,
            },
            Spec::Committed(start, end) => Frame::Committed {
                start: *start,
                end: *end,
            },
        }
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (vec(any::<u8>(), 1..300), any::<bool>()).prop_map(|(p, eom)| Spec::Data(p, eom)),
        Just(Spec::Data(Vec::new(), true)),
        any::<u64>().prop_map(Spec::Consumed),
        Just(Spec::Disconnect),
        Just(Spec::Lost),
        Just(Spec::Want),
        any::<u32>().prop_map(Spec::Reading),
        any::<bool>().prop_map(Spec::Watch),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Spec::Discard(a.min(b), a.max(b))),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Spec::Pending(a.min(b), a.max(b))),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Spec::Committed(a.min(b), a.max(b))),
    ]
}

fn max(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn encoded(frame: Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out).unwrap();
    out
}

fn header(frame_type: u8, flags: u8, len: u32) -> Vec<u8> {
    let mut out = vec![frame_type, flags, 0, 0];
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// Every frame in `wire`, and what is left after the last whole one.
fn decode_all(decoder: &mut FrameDecoder, wire: &[u8]) -> Result<(Vec<Spec>, usize), FrameError> {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some((frame, used)) = decoder.decode(&wire[at..])? {
        frames.push(match frame {
            Frame::Data {
                payload,
                end_of_message,
            } => Spec::Data(payload.to_vec(), end_of_message),
            Frame::Consumed { total } => Spec::Consumed(total),
            Frame::Disconnect => Spec::Disconnect,
            Frame::Lost => Spec::Lost,
            Frame::Want => Spec::Want,
            Frame::Reading { bytes } => Spec::Reading(bytes),
            Frame::Watch { on } => Spec::Watch(on),
            Frame::Discard { start, end } => Spec::Discard(start, end),
            Frame::Pending { start, end } => Spec::Pending(start, end),
            Frame::Committed { start, end } => Spec::Committed(start, end),
        });
        at += used;
    }
    Ok((frames, wire.len() - at))
}

proptest! {
    // T10: decode(encode(x)) == x for every frame type, and T14: no prefix
    // of a frame is ever surfaced as a frame.
    #[test]
    fn every_frame_round_trips_split_at_every_byte(spec in spec(), tail in vec(any::<u8>(), 0..4)) {
        let frame = spec.frame();
        let mut wire = encoded(frame);
        let len = wire.len();
        let mut decoder = FrameDecoder::new(max(300));
        for cut in 0..len {
            prop_assert_eq!(decoder.decode(&wire[..cut]), Ok(None), "prefix of {} bytes", cut);
        }
        wire.extend_from_slice(&tail);
        prop_assert_eq!(decoder.decode(&wire), Ok(Some((frame, len))));
    }

    // T10, T14: a stream delivered in arbitrary pieces decodes to the frames
    // that were sent, in order, and ends on a clean boundary.
    #[test]
    fn a_stream_in_any_pieces_decodes_to_the_frames_sent(
        specs in vec(spec(), 0..8),
        pieces in vec(1usize..40, 1..16),
    ) {
        let mut wire = Vec::new();
        for spec in &specs {
            spec.frame().encode(&mut wire).unwrap();
        }
        let mut decoder = FrameDecoder::new(max(300));
        let mut buffer = Vec::new();
        let mut received = Vec::new();
        let mut sent = &wire[..];
        for &piece in pieces.iter().cycle() {
            let (now, later) = sent.split_at(piece.min(sent.len()));
            buffer.extend_from_slice(now);
            sent = later;
            let (frames, left) = decode_all(&mut decoder, &buffer).unwrap();
            received.extend(frames);
            buffer.drain(..buffer.len() - left);
            if sent.is_empty() {
                break;
            }
        }
        prop_assert_eq!(format!("{received:?}"), format!("{specs:?}"));
        prop_assert_eq!(decoder.finish(&buffer), Ok(()));
    }

    // S61, S65, T13: a message is fragmented to the limit, only its last
    // fragment ends it, and the fragments concatenate to the message.
    #[test]
    fn a_message_fragments_to_the_limit(payload in vec(any::<u8>(), 0..3000), limit in 1u32..700) {
        let mut wire = Vec::new();
        encode_message(&payload, max(limit), &mut wire);
        let (frames, left) = decode_all(&mut FrameDecoder::new(max(limit)), &wire).unwrap();
        prop_assert_eq!(left, 0);
        prop_assert_eq!(frames.len(), payload.len().div_ceil(limit as usize).max(1));
        let mut joined = Vec::new();
        for (index, frame) in frames.iter().enumerate() {
            let Spec::Data(piece, end_of_message) = frame else {
                return Err(TestCaseError::fail("not a data frame"));
            };
            prop_assert!(piece.len() <= limit as usize);
            prop_assert_eq!(*end_of_message, index == frames.len() - 1);
            joined.extend_from_slice(piece);
        }
        prop_assert_eq!(joined, payload);
    }

    // S58, S66: a byte-pipe write is never flagged and never empty.
    #[test]
    fn a_byte_write_fragments_without_boundaries(payload in vec(any::<u8>(), 0..3000), limit in 1u32..700) {
        let mut wire = Vec::new();
        encode_bytes(&payload, max(limit), &mut wire);
        let (frames, left) = decode_all(&mut FrameDecoder::new(max(limit)), &wire).unwrap();
        prop_assert_eq!(left, 0);
        prop_assert_eq!(frames.len(), payload.len().div_ceil(limit as usize));
        let mut joined = Vec::new();
        for frame in &frames {
            let Spec::Data(piece, end_of_message) = frame else {
                return Err(TestCaseError::fail("not a data frame"));
            };
            prop_assert!(!piece.is_empty() && piece.len() <= limit as usize);
            prop_assert!(!end_of_message);
            joined.extend_from_slice(piece);
        }
        prop_assert_eq!(joined, payload);
    }

    // T10: garbage is an error or a frame, never a panic; what decodes
    // re-encodes to the same bytes; after an error the decoder stays failed.
    #[test]
    fn garbage_never_panics_and_errors_are_final(bytes in vec(any::<u8>(), 0..64), limit in 1u32..64) {
        let mut decoder = FrameDecoder::new(max(limit));
        let mut rest = &bytes[..];
        loop {
            match decoder.decode(rest) {
                Ok(Some((frame, used))) => {
                    prop_assert_eq!(encoded(frame), &rest[..used]);
                    rest = &rest[used..];
                }
                Ok(None) => break,
                Err(error) => {
                    prop_assert_eq!(decoder.decode(&[]), Err(error.clone()));
                    prop_assert_eq!(decoder.finish(&[]), Err(error));
                    break;
                }
            }
        }
    }
}

// T9 `header_4gib_closes`: a header claiming 4 GiB is refused from its 8
// bytes alone, without the body (the decoder borrows, so nothing is
// allocated either).
#[test]
fn header_4gib_is_too_large_from_the_header_alone() {
    let wire = header(1, 0, 0xFFFF_FFFF);
    assert_eq!(
        FrameDecoder::default().decode(&wire),
        Err(FrameError::TooLarge {
            len: 0xFFFF_FFFF,
            max: DEFAULT_MAX_FRAME.get()
        })
    );
    // One byte short of the header, nothing is known yet.
    assert_eq!(FrameDecoder::default().decode(&wire[..7]), Ok(None));
    // A fixed-size frame claiming 4 GiB is wrong at once too.
    assert_eq!(
        FrameDecoder::default().decode(&header(2, 0, 0xFFFF_FFFF)),
        Err(FrameError::Protocol(ProtocolViolation::BadLength {
            frame_type: 2,
            len: 0xFFFF_FFFF
        }))
    );
}

// T9 `exactly_max_ok`.
#[test]
fn exactly_max_frame_is_accepted() {
    let payload = vec![7; DEFAULT_MAX_FRAME.get() as usize];
    let mut wire = Vec::new();
    encode_message(&payload, DEFAULT_MAX_FRAME, &mut wire);
    assert_eq!(wire.len(), HEADER_LEN + payload.len(), "one frame");
    let (frame, used) = FrameDecoder::default().decode(&wire).unwrap().unwrap();
    assert_eq!(used, wire.len());
    assert_eq!(
        frame,
        Frame::Data {
            payload: &payload,
            end_of_message: true
        }
    );
}

// T9 `max_plus_one_rejected`.
#[test]
fn max_frame_plus_one_is_too_large() {
    let mut decoder = FrameDecoder::new(max(16));
    assert_eq!(decoder.decode(&header(1, 1, 16)), Ok(None));
    assert_eq!(
        decoder.decode(&header(1, 1, 17)),
        Err(FrameError::TooLarge { len: 17, max: 16 })
    );
}

// T9 `zero_len_rejected` ("reject 0 where it is meaningless"): an empty Data
// frame is only an empty message (S65); without END_OF_MESSAGE it means
// nothing, since a byte pipe never sends one (S66).
#[test]
fn zero_length_data_is_only_an_empty_message() {
    assert_eq!(
        FrameDecoder::default().decode(&header(1, 0, 0)),
        Err(FrameError::Protocol(ProtocolViolation::EmptyFragment))
    );
    assert_eq!(
        FrameDecoder::default().decode(&header(1, 1, 0)),
        Ok(Some((
            Frame::Data {
                payload: b"",
                end_of_message: true
            },
            HEADER_LEN
        )))
    );
    let mut out = Vec::new();
    assert_eq!(
        Frame::Data {
            payload: b"",
            end_of_message: false
        }
        .encode(&mut out),
        Err(FrameError::Protocol(ProtocolViolation::EmptyFragment))
    );
    assert!(out.is_empty());
}

// T10 `garbage_mid_stream_disconnects_cleanly`: after a good frame, 1024
// zero bytes are refused at their first byte (type 0 is never valid), and
// the decoder refuses everything after.
#[test]
fn zero_bytes_mid_stream_are_a_protocol_error() {
    let mut wire = Vec::new();
    encode_message(b"ping", DEFAULT_MAX_FRAME, &mut wire);
    let good = wire.len();
    wire.extend_from_slice(&[0; 1024]);
    let mut decoder = FrameDecoder::default();
    let (frame, used) = decoder.decode(&wire).unwrap().unwrap();
    assert_eq!(used, good);
    assert_eq!(
        frame,
        Frame::Data {
            payload: b"ping",
            end_of_message: true
        }
    );
    let zeros = Err(FrameError::Protocol(ProtocolViolation::UnknownType(0)));
    assert_eq!(decoder.decode(&wire[good..good + 1]), zeros);
    assert_eq!(decoder.decode(&header(3, 0, 0)), zeros, "fused");
}

// T10: every malformed header is refused as soon as the offending byte is
// in, without waiting for the rest.
#[test]
fn malformed_headers_are_refused_at_the_first_bad_byte() {
    let unknown = |t| Err(FrameError::Protocol(ProtocolViolation::UnknownType(t)));
    for t in (11..=255).chain([0]) {
        assert_eq!(FrameDecoder::default().decode(&[t]), unknown(t));
    }
    let flags = |frame_type, flags| {
        Err(FrameError::Protocol(ProtocolViolation::UnknownFlags {
            frame_type,
            flags,
        }))
    };
    assert_eq!(FrameDecoder::default().decode(&[1, 0x02]), flags(1, 0x02));
    assert_eq!(FrameDecoder::default().decode(&[1, 0x81]), flags(1, 0x81));
    for t in [2, 3, 4, 5, 6, 7, 8, 9] {
        assert_eq!(FrameDecoder::default().decode(&[t, 0x01]), flags(t, 0x01));
    }
    assert_eq!(FrameDecoder::default().decode(&[10, 0x02]), flags(10, 0x02));
    let reserved = Err(FrameError::Protocol(ProtocolViolation::ReservedNotZero));
    assert_eq!(FrameDecoder::default().decode(&[1, 0, 1]), reserved);
    assert_eq!(FrameDecoder::default().decode(&[2, 0, 0, 0x80]), reserved);
}

// T10: a fixed-size frame of the wrong size is refused from its header.
#[test]
fn fixed_size_frames_must_have_their_size() {
    for (frame_type, len) in [
        (2, 0),
        (2, 7),
        (2, 9),
        (3, 1),
        (3, 8),
        (4, 8),
        (4, 17),
        (7, 1),
        (8, 8),
        (9, 0),
        (9, 8),
        (10, 4),
    ] {
        assert_eq!(
            FrameDecoder::default().decode(&header(frame_type, 0, len)),
            Err(FrameError::Protocol(ProtocolViolation::BadLength {
                frame_type,
                len
            })),
            "type {frame_type} len {len}"
        );
    }
}

// S75: a Discard names a forward range; a backward one is refused both ways.
#[test]
fn discard_ranges_run_forwards() {
    let mut wire = header(4, 0, 16);
    wire.extend_from_slice(&9u64.to_le_bytes());
    wire.extend_from_slice(&3u64.to_le_bytes());
    let backwards = Err(FrameError::Protocol(ProtocolViolation::DiscardRange {
        start: 9,
        end: 3,
    }));
    assert_eq!(FrameDecoder::default().decode(&wire), backwards);
    let mut out = Vec::new();
    assert_eq!(
        Frame::Discard { start: 9, end: 3 }.encode(&mut out),
        backwards.map(|_| ())
    );
    let empty = Frame::Discard { start: 5, end: 5 };
    let wire = encoded(empty);
    assert_eq!(FrameDecoder::default().decode(&wire), Ok(Some((empty, 24))));
}

// The byte layout of the module docs, pinned.
#[test]
fn byte_layout_is_as_documented() {
    assert_eq!(encoded(Frame::Disconnect), [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        encoded(Frame::Data {
            payload: b"ab",
            end_of_message: true
        }),
        [1, 1, 0, 0, 2, 0, 0, 0, b'a', b'b']
    );
    assert_eq!(
        encoded(Frame::Consumed {
            total: 0x0807_0605_0403_0201
        }),
        [2, 0, 0, 0, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(
        encoded(Frame::Discard { start: 1, end: 2 }),
        [4, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    );
}

// T14 `crash_midmessage`: the peer wrote message A, then a header and half
// of B, then died. A is delivered; B is never surfaced; the leftover is
// reported as a truncated frame, not a clean end.
#[test]
fn partial_frame_at_eof_is_never_surfaced() {
    let mut wire = Vec::new();
    encode_message(b"message A", DEFAULT_MAX_FRAME, &mut wire);
    let whole = wire.len();
    encode_message(&[b'B'; 100], DEFAULT_MAX_FRAME, &mut wire);
    wire.truncate(whole + HEADER_LEN + 50);

    let mut decoder = FrameDecoder::default();
    let (frame, used) = decoder.decode(&wire).unwrap().unwrap();
    assert_eq!(
        frame,
        Frame::Data {
            payload: b"message A",
            end_of_message: true
        }
    );
    let rest = &wire[used..];
    assert_eq!(decoder.decode(rest), Ok(None));
    assert_eq!(
        decoder.finish(rest),
        Err(FrameError::Truncated {
            buffered: HEADER_LEN + 50
        })
    );
    assert_eq!(decoder.finish(&[]), Ok(()));
}

// S65: a zero-length message is one empty frame, distinct from "nothing".
#[test]
fn empty_message_and_empty_byte_write_differ() {
    let (mut message, mut bytes) = (Vec::new(), Vec::new());
    encode_message(b"", DEFAULT_MAX_FRAME, &mut message);
    encode_bytes(b"", DEFAULT_MAX_FRAME, &mut bytes);
    assert_eq!(message, header(1, 1, 0));
    assert!(bytes.is_empty());
}

mod data_header_decoding {
    use pipeslot_proto::frame::{data_header, decode_data_header, frame_len, DEFAULT_MAX_FRAME};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decodes_what_data_header_encodes(len in 0usize..=(1 << 20), eom: bool) {
            if let Some(header) = data_header(len, eom, DEFAULT_MAX_FRAME) {
                let decoded = decode_data_header(&header, DEFAULT_MAX_FRAME).unwrap();
                prop_assert_eq!((decoded.len, decoded.end_of_message), (len, eom));
                prop_assert_eq!(frame_len(&header), Some(8 + len as u64));
            }
        }
    }

    #[test]
    fn refuses_headers_the_decoder_refuses() {
        // T9: over the limit; T10: unknown flag, reserved byte, other type.
        let mut over = [1u8, 0, 0, 0, 0, 0, 0, 0];
        over[4..8].copy_from_slice(&((1u32 << 20) + 1).to_le_bytes());
        assert_eq!(decode_data_header(&over, DEFAULT_MAX_FRAME), None);
        assert_eq!(
            decode_data_header(&[1, 2, 0, 0, 9, 0, 0, 0], DEFAULT_MAX_FRAME),
            None
        );
        assert_eq!(
            decode_data_header(&[1, 0, 1, 0, 9, 0, 0, 0], DEFAULT_MAX_FRAME),
            None
        );
        assert_eq!(
            decode_data_header(&[2, 0, 0, 0, 8, 0, 0, 0], DEFAULT_MAX_FRAME),
            None
        );
        assert_eq!(
            decode_data_header(&[1, 0, 0, 0, 0, 0, 0, 0], DEFAULT_MAX_FRAME),
            None
        );
    }
}
