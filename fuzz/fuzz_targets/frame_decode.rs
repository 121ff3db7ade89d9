//! Frame decoding (threats T9, T10, T14): any byte stream decodes to frames
//! until it needs more bytes or is refused, never panics, and every decoded
//! frame re-encodes to exactly the bytes it came from.
#![no_main]

use std::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::frame::decode_data_header;
use pipeslot_proto::{Frame, FrameDecoder};

fuzz_target!(|bytes: &[u8]| {
    // A small limit, so that both sides of it are reachable with short inputs.
    let max = NonZeroU32::new(256).unwrap();
    let mut decoder = FrameDecoder::new(max);
    let mut rest = bytes;
    // The header decoder a receiver uses for large frames agrees with the
    // full decoder, and never passes a length over the limit.
    if let Some(header) = decode_data_header(rest, max) {
        assert!(header.len <= 256);
        if let Ok(Some((Frame::Data { payload, end_of_message }, _))) =
            FrameDecoder::new(max).decode(rest)
        {
            assert_eq!((payload.len(), end_of_message), (header.len, header.end_of_message));
        }
    }
    while let Ok(Some((frame, used))) = decoder.decode(rest) {
        let mut again = Vec::new();
        frame.encode(&mut again).unwrap();
        assert_eq!(again, rest[..used]);
        rest = &rest[used..];
    }
    let _ = decoder.finish(rest);
});
