//! The gateway's formats (`pipeslot_proto::relay`): a process's request and
//! the multiplexed frames between gateways. Bytes from a remote host are
//! the least trusted input pipeslot reads: decoding must never panic, and
//! whatever decodes must re-encode to exactly the bytes it came from. The
//! Mail frames' `(origin_epoch, seq)` go through one anti-replay window, as
//! a receiving gateway's do (T24): none is accepted twice. The header-only
//! decoding (`MuxDecoder::data_header`) agrees with the whole one.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::relay::{GatewayRequest, MuxDecoder, MuxFrame, ReplayWindow};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((request, used))) = GatewayRequest::decode(data) {
        assert_eq!(request.encode().unwrap(), data[..used]);
    }
    let mut decoder = MuxDecoder::default();
    let mut window = ReplayWindow::new();
    let mut accepted = HashSet::new();
    let mut rest = data;
    loop {
        // The header-only decoding (the gateway's way to read a large
        // Data payload into its own buffer) judges as the whole one does.
        let header = decoder.data_header(rest);
        let decoded = decoder.decode(rest);
        if let Ok(Some((stream, len))) = header {
            match &decoded {
                Ok(Some((MuxFrame::Data { stream: s, frames }, _))) => {
                    assert_eq!((*s, frames.len()), (stream, len))
                }
                Ok(None) => {}
                other => panic!("data header {stream}/{len} but decoded {other:?}"),
            }
        } else if let Ok(Some((MuxFrame::Data { .. }, _))) = &decoded {
            panic!("a Data frame whose header was {header:?}");
        }
        if header.is_err() {
            assert!(decoded.is_err(), "header refused, frame accepted");
        }
        let Ok(Some((frame, used))) = decoded else {
            break;
        };
        let mut again = Vec::new();
        frame.encode(&mut again);
        assert_eq!(again, rest[..used]);
        if let MuxFrame::Mail {
            origin_epoch, seq, ..
        } = frame
        {
            if window.check(origin_epoch, seq).is_ok() {
                assert!(accepted.insert((origin_epoch, seq)), "accepted twice");
            }
        }
        rest = &rest[used..];
    }
});
