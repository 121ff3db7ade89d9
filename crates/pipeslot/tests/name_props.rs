//! Pipe and mailslot names: grammar, case, limits, and the mapping to
//! socket files (S1-S11, S139-S143; threats T5, T6).

use pipeslot::name::{Host, MailslotName, PipeName, MAX_NAME_CHARS};
use pipeslot::namespace::{Namespace, ObjectKind, Scope};
use pipeslot::ErrorKind;
use proptest::prelude::*;

fn pipe(text: &str) -> PipeName {
    PipeName::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn pipe_err(text: &str) -> ErrorKind {
    PipeName::parse(text).expect_err(text).kind()
}

#[test]
fn local_and_remote_pipe_names() {
    // S1, S2
    assert_eq!(pipe(r"\\.\pipe\x").host(), &Host::Local);
    assert_eq!(
        pipe(r"\\HostB\pipe\x").host(),
        &Host::Remote("hostb".into())
    );
    assert_eq!(
        pipe(r"\\10.0.0.2\pipe\x").host(),
        &Host::Remote("10.0.0.2".into())
    );
    assert!(pipe(r"\\.\pipe\x").is_local());
    assert_eq!(pipe(r"\\hostb\pipe\x").to_local(), pipe(r"\\.\pipe\x"));
}

#[test]
fn names_compare_without_case() {
    // S4: `\\.\PiPe\tests_pipe.c` is the same pipe as `\\.\pipe\TESTS_PIPE.C`.
    assert_eq!(
        pipe(r"\\.\PiPe\tests_pipe.c"),
        pipe(r"\\.\pipe\TESTS_PIPE.C")
    );
    assert_eq!(
        pipe(r"\\.\PiPe\tests_pipe.c").file_stem(),
        pipe(r"\\.\pipe\TESTS_PIPE.C").file_stem()
    );
    assert_eq!(pipe(r"\\HOST\pipe\a"), pipe(r"\\host\pipe\A"));
    // T5: FOO and foo are one name.
    assert_eq!(pipe(r"\\.\pipe\FOO"), pipe(r"\\.\pipe\foo"));
    // The original spelling is kept for display.
    assert_eq!(pipe(r"\\.\PiPe\Foo").to_string(), r"\\.\PiPe\Foo");
}

#[test]
fn punctuation_is_allowed_in_the_name_part() {
    // S5: Wine's `a<>*?|"/b`, and every printable ASCII punctuation character.
    let name = pipe(r#"\\.\pipe\a<>*?|"/b"#);
    assert_eq!(name.path(), r#"a<>*?|"/b"#);
    for c in (0x21u8..0x7f)
        .map(char::from)
        .filter(|c| c.is_ascii_punctuation())
    {
        let text = format!(r"\\.\pipe\x{c}y");
        assert_eq!(pipe(&text).path(), format!("x{c}y"));
    }
}

#[test]
fn backslashes_are_allowed_and_nothing_is_normalised() {
    // S6: `test3\pipe` is a valid name part.
    assert_eq!(pipe(r"\\.\pipe\test3\pipe").path(), r"test3\pipe");
    // S7: these stay distinct.
    let distinct = [
        (r"wine-test\", "wine-test"),
        ("wine/test", r"wine\test"),
        (r"wine\.\test", r"wine\test"),
        (r"wine\..\test", "test"),
    ];
    for (a, b) in distinct {
        let (a, b) = (PipeName::local(a).unwrap(), PipeName::local(b).unwrap());
        assert_ne!(a, b);
        assert_ne!(a.file_stem(), b.file_stem());
    }
}

#[test]
fn empty_name_part_is_invalid_but_a_lone_backslash_is_valid() {
    // S8
    assert_eq!(pipe_err(r"\\.\pipe\"), ErrorKind::InvalidName);
    assert_eq!(pipe_err(r"\\.\pipe"), ErrorKind::InvalidName);
    assert_eq!(pipe(r"\\.\pipe\\").path(), r"\");
}

#[test]
fn strings_that_are_not_pipe_paths_are_invalid_names() {
    // S9: "not a named pipe" gives ERROR_INVALID_NAME (123).
    let err = PipeName::parse("not a named pipe").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
    assert_eq!(err.win32_code(), 123);
    for text in [
        "",
        r"\\",
        r"\\.",
        r"\\.\",
        r"\\.\pipe",
        r"\\.\pip\x",
        r"\\.\mailslot\x",
        r"\.\pipe\x",
        r"//./pipe/x",
        r"\\\pipe\x",
        r"\\*\pipe\x",
        r"\\host name\pipe\x",
        r"\\..\pipe\x",
        "x",
    ] {
        assert_eq!(pipe_err(text), ErrorKind::InvalidName, "{text:?}");
    }
}

#[test]
fn nul_and_control_characters_are_invalid() {
    // T5, T6: a NUL anywhere (a leading one would make an abstract socket).
    assert_eq!(pipe_err("\0evil"), ErrorKind::InvalidName);
    assert_eq!(pipe_err("\\\\.\\pipe\\\0x"), ErrorKind::InvalidName);
    assert_eq!(pipe_err("\\\\.\\pipe\\a\0"), ErrorKind::InvalidName);
    assert_eq!(pipe_err("\\\\.\\pipe\\a\nb"), ErrorKind::InvalidName);
    assert_eq!(
        MailslotName::parse("\\\\.\\mailslot\\\0x")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidName
    );
}

#[test]
fn names_are_limited_to_256_characters() {
    // S3: up to 256 characters in total; longer is ERROR_FILENAME_EXCED_RANGE
    // (Wine's code; Windows documents none — spec C8).
    let prefix = r"\\.\pipe\";
    let fits = format!("{prefix}{}", "é".repeat(MAX_NAME_CHARS - prefix.len()));
    assert_eq!(fits.chars().count(), 256);
    assert!(PipeName::parse(&fits).is_ok());
    let over = format!("{fits}x");
    let err = PipeName::parse(&over).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NameTooLong);
    assert_eq!(err.win32_code(), 206);
}

#[test]
fn mailslot_names() {
    // S139: case-insensitive, pseudo-directories allowed.
    let name = MailslotName::parse(r"\\.\MailSlot\abc\def\ghi").unwrap();
    assert_eq!(
        name,
        MailslotName::parse(r"\\.\mailslot\ABC\DEF\GHI").unwrap()
    );
    assert_eq!(name.path(), r"abc\def\ghi");
    assert!(name.is_local());
    // S140: computer, domain and `*` forms.
    assert_eq!(
        MailslotName::parse(r"\\Box\mailslot\x").unwrap().host(),
        &Host::Remote("box".into())
    );
    assert_eq!(
        MailslotName::parse(r"\\Example.Domain\mailslot\x")
            .unwrap()
            .host(),
        &Host::Remote("example.domain".into())
    );
    assert_eq!(
        MailslotName::parse(r"\\*\mailslot\x").unwrap().host(),
        &Host::AllHosts
    );
    // S142: "blah" is ERROR_INVALID_NAME.
    let err = MailslotName::parse("blah").unwrap_err();
    assert_eq!(
        (err.kind(), err.win32_code()),
        (ErrorKind::InvalidName, 123)
    );
    assert_eq!(
        MailslotName::parse(r"\\.\pipe\x").unwrap_err().kind(),
        ErrorKind::InvalidName
    );
    assert_eq!(
        MailslotName::parse(r"\\.\mailslot\").unwrap_err().kind(),
        ErrorKind::InvalidName
    );
}

#[test]
fn pipe_and_mailslot_of_one_path_live_in_different_directories() {
    // T5: the on-disk file is derived per kind; S139 mailslot names and
    // S1 pipe names are separate namespaces.
    let root = tempfile::tempdir().unwrap();
    let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
    let p = ns.pipe_socket_path(&PipeName::local("same").unwrap());
    let m = ns.mailslot_socket_path(&MailslotName::local("same").unwrap());
    assert_ne!(p, m);
    assert_eq!(p.parent().unwrap(), ns.kind_dir(ObjectKind::Pipe));
    assert_eq!(m.parent().unwrap(), ns.kind_dir(ObjectKind::Mailslot));
}

/// Names shaped like real ones, plus arbitrary strings.
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        r"\\\\(\.|[a-zA-Z0-9.-]{1,12}|\*)\\(?i:pipe|mailslot)\\.{0,300}",
        r"\\\\\.\\pipe\\[\\./<>*?|a-zA-Z]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// T5: every accepted name maps to a socket file directly inside its
    /// namespace directory, whose address fits in `sun_path` (108 bytes);
    /// everything else is refused with a name error.
    #[test]
    fn accepted_names_map_inside_the_namespace(text in name_like()) {
        thread_local! {
            static NS: (tempfile::TempDir, Namespace) = {
                let root = tempfile::tempdir().unwrap();
                let ns = Namespace::at_root(root.path(), Scope::Private).unwrap();
                (root, ns)
            };
        }
        NS.with(|(_, ns)| {
            match PipeName::parse(&text) {
                Ok(name) => {
                    let path = ns.pipe_socket_path(&name);
                    prop_assert_eq!(path.parent().unwrap(), ns.kind_dir(ObjectKind::Pipe));
                    prop_assert!(path.as_os_str().len() < 108, "{}", path.display());
                    let address = ns.pipe_socket_address(&name).unwrap();
                    prop_assert!(address.as_os_str().len() < 108);
                    prop_assert!(!text.contains('\0'));
                    prop_assert!(text.chars().count() <= MAX_NAME_CHARS);
                    // Parsing is stable: the displayed name parses to the same name.
                    prop_assert_eq!(PipeName::parse(name.as_str()).unwrap(), name);
                }
                Err(e) => prop_assert!(
                    matches!(e.kind(), ErrorKind::InvalidName | ErrorKind::NameTooLong),
                    "{:?}", e
                ),
            }
            match MailslotName::parse(&text) {
                Ok(name) => {
                    let path = ns.mailslot_socket_path(&name);
                    prop_assert_eq!(path.parent().unwrap(), ns.kind_dir(ObjectKind::Mailslot));
                    prop_assert!(path.as_os_str().len() < 108);
                }
                Err(e) => prop_assert!(matches!(e.kind(), ErrorKind::InvalidName | ErrorKind::NameTooLong)),
            }
            Ok(())
        })?;
    }

    /// S4: case variants of one name are equal and share their socket file.
    #[test]
    fn case_variants_share_a_file(path in "[a-zA-Z0-9_.-]{1,40}") {
        let lower = PipeName::local(&path.to_lowercase()).unwrap();
        let upper = PipeName::local(&path.to_uppercase()).unwrap();
        prop_assert_eq!(&lower, &upper);
        prop_assert_eq!(lower.file_stem(), upper.file_stem());
    }
}
