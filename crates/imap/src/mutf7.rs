//! Modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
//!
//! Printable US-ASCII stands for itself except `&`, which is written `&-`.
//! Everything else is UTF-16 (big-endian) in a modified BASE64 (`,` instead
//! of `/`, no padding) between `&` and `-`.

/// The modified BASE64 alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Whether `c` is represented as itself (printable US-ASCII).
fn is_direct(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// The 6-bit value of a modified BASE64 character.
fn b64_value(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes a modified UTF-7 name to UTF-8; `None` if it is not valid
/// (unterminated `&`, bad BASE64, non-zero or excess padding bits, unpaired
/// surrogates, printable ASCII written in BASE64, `-&` null shifts, or
/// octets other than printable ASCII).
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0usize;
    // Whether the previous item was a BASE64 run (a following run would be a null shift).
    let mut after_run = false;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if b != b'&' {
            if !is_direct(u32::from(b)) {
                return None;
            }
            out.push(char::from(b));
            after_run = false;
            continue;
        }
        if bytes.get(i) == Some(&b'-') {
            i += 1;
            out.push('&');
            after_run = false;
            continue;
        }
        if after_run {
            return None;
        }
        let mut units: Vec<u16> = Vec::new();
        let mut acc: u32 = 0;
        let mut nbits: u32 = 0;
        loop {
            let c = *bytes.get(i)?;
            i += 1;
            if c == b'-' {
                break;
            }
            acc = ((acc << 6) | b64_value(c)?) & 0x3F_FFFF;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(u16::try_from((acc >> nbits) & 0xFFFF).ok()?);
                acc &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be fewer than one BASE64 character, and zero.
        if nbits >= 6 || acc != 0 || units.is_empty() {
            return None;
        }
        for ch in char::decode_utf16(units) {
            let ch = ch.ok()?;
            if is_direct(u32::from(ch)) {
                return None;
            }
            out.push(ch);
        }
        after_run = true;
    }
    Some(out)
}

/// Appends one BASE64 run (`&...-`) for `units`, then clears them.
fn flush(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut nbits: u32 = 0;
    let push6 = |out: &mut String, v: u32| {
        if let Some(&c) = usize::try_from(v & 0x3F).ok().and_then(|i| ALPHABET.get(i)) {
            out.push(char::from(c));
        }
    };
    for &u in units.iter() {
        acc = (acc << 16) | u32::from(u);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            push6(out, acc >> nbits);
        }
        acc &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        push6(out, acc << (6 - nbits));
    }
    out.push('-');
    units.clear();
}

/// Encodes a UTF-8 name as modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    for ch in s.chars() {
        if is_direct(u32::from(ch)) {
            flush(&mut out, &mut units);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut units);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Modified BASE64 of raw UTF-16 units, to build invalid inputs.
    fn raw_run(units: &[u16]) -> String {
        let mut out = String::new();
        flush(&mut out, &mut units.to_vec());
        out
    }

    #[test]
    fn known_encodings() {
        let cases = [
            ("INBOX", "INBOX"),
            ("&", "&-"),
            ("a&b", "a&-b"),
            ("&&", "&-&-"),
            ("Входящие", "&BBIERQQ+BDQETwRJBDgENQ-"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("\u{263a}!", "&Jjo-!"),
            ("😀", "&2D3eAA-"),
            ("", ""),
        ];
        for (utf8, mutf7) in cases {
            assert_eq!(encode(utf8), mutf7, "encode {utf8}");
            assert_eq!(decode(mutf7).as_deref(), Some(utf8), "decode {mutf7}");
        }
    }

    #[test]
    fn round_trips() {
        for s in [
            "Entwürfe",
            "Gesendete Elemente",
            "Входящие/Спам",
            "日本語 & 中文",
            "emoji 😀🎉 mixed é",
            "tab\there",
            "a-b_c.d",
            "&-&Jjo-",
            "\u{10FFFF}\u{FFFF}\u{E000}",
        ] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s), "{s}");
            assert!(encode(s).bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }

    #[test]
    fn invalid() {
        let high_only = raw_run(&[0xD83D]);
        let low_only = raw_run(&[0xDE00]);
        let ascii = raw_run(&[0x61]);
        let amp = raw_run(&[0x26]);
        let cases = [
            "&",
            "a&",
            "&Jjo",
            "&Jjo!-",
            "&Jjp-",
            "&AA-",
            "&Jjo-&Jjo-",
            "&AGE-",
            "é",
            "a\tb",
            high_only.as_str(),
            low_only.as_str(),
            ascii.as_str(),
            amp.as_str(),
            "&2D3eAA",
            "&2D3eAAA-",
        ];
        for s in cases {
            assert_eq!(decode(s), None, "{s:?} should be invalid");
        }
        assert_eq!(ascii, "&AGE-");
    }
}
