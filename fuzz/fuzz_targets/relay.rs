//! The gateway's formats (`pipeslot_proto::relay`): a process's request and
//! the multiplexed frames between gateways. Bytes from a remote host are
//! the least trusted input pipeslot reads: decoding must never panic, and
//! whatever decodes must re-encode to exactly the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeslot_proto::relay::{GatewayRequest, MuxDecoder};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((request, used))) = GatewayRequest::decode(data) {
        assert_eq!(request.encode().unwrap(), data[..used]);
    }
    let mut decoder = MuxDecoder::default();
    let mut rest = data;
    while let Ok(Some((frame, used))) = decoder.decode(rest) {
        let mut again = Vec::new();
        frame.encode(&mut again);
        assert_eq!(again, rest[..used]);
        rest = &rest[used..];
    }
});
