//! The gateway's formats (`pipeslot_proto::relay`): a process's request and
//! the multiplexed frames between gateways. Bytes from a remote host are
//! the least trusted input pipeslot reads: decoding must never panic, and
//! whatever decodes must re-encode to exactly the bytes it came from. The
//! Mail frames' `(origin_epoch, seq)` go through one anti-replay window, as
//! a receiving gateway's do (T24): none is accepted twice.
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
    while let Ok(Some((frame, used))) = decoder.decode(rest) {
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
