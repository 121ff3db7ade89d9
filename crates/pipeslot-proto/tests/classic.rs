//! The classic server's records (pipeslot-proto `classic`): the book's
//! bytes exactly, decoders that refuse bad records without panicking, and
//! round trips.

use proptest::collection::vec;
use proptest::prelude::*;

use pipeslot_proto::classic::{
    self, Announcement, ClassicError, Response, ANNOUNCEMENT_LEN, END_OF_RESPONSE, MAX_COMMAND_LEN,
    MAX_LINE_LEN, MAX_PIPE_NAME_LEN, REQUEST_LEN,
};

#[test]
fn request_is_4100_bytes_length_then_nul_padded_command() {
    let request = classic::encode_request(b"ls -l").unwrap();
    assert_eq!(request.len(), 4100);
    assert_eq!(&request[..4], &4100i32.to_le_bytes());
    assert_eq!(&request[4..9], b"ls -l");
    assert!(request[9..].iter().all(|&b| b == 0));
}

#[test]
fn request_decoding_ignores_the_length_and_stops_at_the_nul() {
    let mut request = vec![0xffu8; 4];
    request.extend_from_slice(b"echo hi\0garbage\0");
    assert_eq!(classic::decode_request(&request).unwrap(), b"echo hi");
}

#[test]
fn bad_requests_are_errors() {
    assert!(matches!(
        classic::decode_request(b"\0\0\0"),
        Err(ClassicError::TooShort { .. })
    ));
    assert_eq!(
        classic::decode_request(b"\0\0\0\0abc"),
        Err(ClassicError::Unterminated)
    );
    let long = vec![0u8; REQUEST_LEN + 1];
    assert!(matches!(
        classic::decode_request(&long),
        Err(ClassicError::TooLong { .. })
    ));
    assert_eq!(
        classic::encode_request(b"a\0b"),
        Err(ClassicError::NulInside)
    );
    assert!(classic::encode_request(&[b'x'; MAX_COMMAND_LEN]).is_ok());
    assert!(classic::encode_request(&[b'x'; MAX_COMMAND_LEN + 1]).is_err());
}

#[test]
fn response_line_is_length_line_nul() {
    assert_eq!(
        classic::encode_response_line(b"hello\n").unwrap(),
        b"\x07\x00\x00\x00hello\n\x00"
    );
}

#[test]
fn end_of_response_is_four_zero_bytes_and_the_old_full_record_also_ends() {
    assert_eq!(END_OF_RESPONSE, [0, 0, 0, 0]);
    assert_eq!(
        classic::decode_response(&END_OF_RESPONSE),
        Ok(Response::End)
    );
    // The older end record: a full-size response holding an empty line.
    let mut old = vec![0u8; 4100];
    old[0] = 1;
    assert_eq!(classic::decode_response(&old), Ok(Response::End));
    let old_zero = vec![0u8; 4100];
    assert_eq!(classic::decode_response(&old_zero), Ok(Response::End));
}

#[test]
fn bad_responses_are_errors() {
    assert!(classic::decode_response(b"\x01\x00").is_err());
    // Negative length.
    assert_eq!(
        classic::decode_response(b"\xff\xff\xff\xffab\0"),
        Err(ClassicError::BadLength(-1))
    );
    // Longer than the message.
    assert_eq!(
        classic::decode_response(b"\x09\0\0\0ab\0"),
        Err(ClassicError::BadLength(9))
    );
    // No NUL where the length says.
    assert_eq!(
        classic::decode_response(b"\x03\0\0\0abc"),
        Err(ClassicError::Unterminated)
    );
    assert!(classic::encode_response_line(b"").is_err());
    assert!(classic::encode_response_line(&[b'x'; MAX_LINE_LEN + 1]).is_err());
}

#[test]
fn announcement_is_268_bytes_status_utilization_padded_name() {
    let record = Announcement::new(br"\\.\PIPE\SERVER").encode().unwrap();
    assert_eq!(record.len(), 268);
    assert_eq!(&record[..8], &[0u8; 8]);
    assert_eq!(&record[8..23], br"\\.\PIPE\SERVER");
    assert!(record[23..].iter().all(|&b| b == 0));
    let decoded = Announcement::decode(&record).unwrap();
    assert_eq!(decoded.pipe_name, br"\\.\PIPE\SERVER");
    assert_eq!((decoded.status, decoded.utilization), (0, 0));
}

#[test]
fn bad_announcements_are_errors() {
    assert!(Announcement::decode(&[0u8; ANNOUNCEMENT_LEN - 1]).is_err());
    assert!(Announcement::decode(&[0u8; ANNOUNCEMENT_LEN + 1]).is_err());
    assert_eq!(
        Announcement::decode(&[b'x'; ANNOUNCEMENT_LEN]),
        Err(ClassicError::Unterminated)
    );
    assert!(Announcement::new(&[b'x'; MAX_PIPE_NAME_LEN + 1])
        .encode()
        .is_err());
}

#[test]
fn long_lines_are_split_at_4095_bytes() {
    let mut output = vec![b'x'; 5000];
    output.push(b'\n');
    assert_eq!(classic::first_line_len(&output), Some(4095));
    assert_eq!(classic::first_line_len(&output[4095..]), Some(906));
    assert_eq!(classic::first_line_len(b"no newline yet"), None);
}

proptest! {
    #[test]
    fn requests_round_trip(command in vec(1u8..=255, 0..=MAX_COMMAND_LEN)) {
        let request = classic::encode_request(&command).unwrap();
        prop_assert_eq!(request.len(), REQUEST_LEN);
        prop_assert_eq!(classic::decode_request(&request).unwrap(), &command[..]);
    }

    #[test]
    fn response_lines_round_trip(line in vec(1u8..=255, 1..=MAX_LINE_LEN)) {
        let message = classic::encode_response_line(&line).unwrap();
        prop_assert_eq!(classic::decode_response(&message).unwrap(), Response::Line(&line));
    }

    #[test]
    fn announcements_round_trip(
        status in any::<u32>(),
        utilization in any::<u32>(),
        name in vec(1u8..=255, 0..=MAX_PIPE_NAME_LEN),
    ) {
        let announcement = Announcement { status, utilization, pipe_name: &name };
        let record = announcement.encode().unwrap();
        prop_assert_eq!(Announcement::decode(&record).unwrap(), announcement);
    }

    #[test]
    fn decoders_never_panic(bytes in vec(any::<u8>(), 0..5000)) {
        let _ = classic::decode_request(&bytes);
        let _ = classic::decode_response(&bytes);
        let _ = Announcement::decode(&bytes);
        let _ = classic::first_line_len(&bytes);
    }

    #[test]
    fn splitting_output_into_lines_keeps_every_byte(
        output in vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..10000),
    ) {
        let mut rest = &output[..];
        let mut joined = Vec::new();
        while !rest.is_empty() {
            let len = classic::first_line_len(rest).unwrap_or(rest.len());
            prop_assert!((1..=MAX_LINE_LEN).contains(&len));
            joined.extend_from_slice(&rest[..len]);
            rest = &rest[len..];
        }
        prop_assert_eq!(joined, output);
    }
}
