//! Splitting a Windows command line into arguments, as the Microsoft C
//! runtime and `CommandLineToArgvW` do ("Parsing C++ command-line
//! arguments", Microsoft Learn):
//!
//! - Arguments are separated by spaces and tabs outside double quotes.
//! - The first argument, the program name, is special: it ends at the
//!   first space or tab outside quotes, quotes are removed, and
//!   backslashes are always literal.
//! - In the other arguments, `2n` backslashes followed by `"` give `n`
//!   backslashes and the quote opens or closes a quoted part; `2n + 1`
//!   backslashes followed by `"` give `n` backslashes and a literal `"`;
//!   backslashes not followed by `"` are literal.
//! - Inside a quoted part, `""` gives a literal `"` and the part goes on.
//!
//! No shell is involved: `*`, `$`, `|`, `>` and friends are ordinary
//! characters.

/// Splits `line` into arguments; the first is the program name.
pub(crate) fn split(line: &[u8]) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut rest = skip_blanks(line);
    if rest.is_empty() {
        return args;
    }
    // The program name: quotes toggle, nothing escapes.
    let mut program = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < rest.len() {
        let c = rest[i];
        if c == b'"' {
            quoted = !quoted;
        } else if is_blank(c) && !quoted {
            break;
        } else {
            program.push(c);
        }
        i += 1;
    }
    args.push(program);
    rest = skip_blanks(&rest[i..]);

    while !rest.is_empty() {
        let mut arg = Vec::new();
        let mut quoted = false;
        let mut i = 0;
        while i < rest.len() {
            let c = rest[i];
            if c == b'\\' {
                let run = rest[i..].iter().take_while(|&&b| b == b'\\').count();
                if rest.get(i + run) == Some(&b'"') {
                    arg.extend(std::iter::repeat_n(b'\\', run / 2));
                    if run % 2 == 1 {
                        arg.push(b'"');
                        i += run + 1;
                    } else {
                        // The quote is handled as a delimiter next round.
                        i += run;
                    }
                } else {
                    arg.extend(std::iter::repeat_n(b'\\', run));
                    i += run;
                }
            } else if c == b'"' {
                if quoted && rest.get(i + 1) == Some(&b'"') {
                    arg.push(b'"');
                    i += 2;
                } else {
                    quoted = !quoted;
                    i += 1;
                }
            } else if is_blank(c) && !quoted {
                break;
            } else {
                arg.push(c);
                i += 1;
            }
        }
        args.push(arg);
        rest = skip_blanks(&rest[i..]);
    }
    args
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_blank(c)).unwrap_or(s.len());
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_str(line: &str) -> Vec<String> {
        split(line.as_bytes())
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    /// The examples table of "Parsing C++ command-line arguments".
    #[test]
    fn microsoft_examples() {
        assert_eq!(split_str(r#"p "abc" d e"#), ["p", "abc", "d", "e"]);
        assert_eq!(
            split_str(r#"p a\\b d"e f"g h"#),
            ["p", r"a\\b", "de fg", "h"]
        );
        assert_eq!(split_str(r#"p a\\\"b c d"#), ["p", r#"a\"b"#, "c", "d"]);
        assert_eq!(split_str(r#"p a\\\\"b c" d e"#), ["p", r"a\\b c", "d", "e"]);
        assert_eq!(split_str(r#"p a"b"" c d"#), ["p", r#"ab" c d"#]);
    }

    #[test]
    fn program_name_keeps_backslashes_and_drops_quotes() {
        assert_eq!(split_str(r#""C:\a b\p.exe" x"#), [r"C:\a b\p.exe", "x"]);
        assert_eq!(split_str(r#"  dir\p\"  y"#), [r"dir\p\  y"]);
    }

    #[test]
    fn blanks_and_empty_arguments() {
        assert_eq!(split_str(""), Vec::<String>::new());
        assert_eq!(split_str(" \t "), Vec::<String>::new());
        assert_eq!(split_str("p \"\" x\t\ty "), ["p", "", "x", "y"]);
    }
}
