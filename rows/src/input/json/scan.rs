//! Byte scanning for the JSON fast path: special bytes, string and number ends, blanks,
//! hex digits and integers.

#[inline]
pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// From `i`, the index of the first byte that is `"`, a backslash, a control character or non-ASCII
/// (`chunk.len()` if none), eight bytes at a time.
#[inline]
pub(super) fn next_special(chunk: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= chunk.len() {
        let x = u64::from_le_bytes(chunk[i..i + 8].try_into().expect("8 bytes"));
        let q = x ^ (LO * u64::from(b'"'));
        let e = x ^ (LO * u64::from(b'\\'));
        // Zero bytes of q/e, bytes below 0x20 and bytes with the high bit set; the lowest
        // flagged byte is always a real one (borrows only travel upwards from a real one).
        let m = ((q.wrapping_sub(LO) & !q) | (e.wrapping_sub(LO) & !e) | (x.wrapping_sub(LO * 0x20) & !x) | x) & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < chunk.len() {
        let b = chunk[i];
        if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The closing quote of the string whose text starts at `start`, when the string has no
/// escape and no control character (its UTF-8 checked when it is not ASCII).
#[inline]
pub(super) fn string_end(chunk: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut non_ascii = false;
    loop {
        i = next_special(chunk, i);
        match *chunk.get(i)? {
            b'"' => {
                if non_ascii {
                    std::str::from_utf8(&chunk[start..i]).ok()?;
                }
                return Some(i);
            }
            b if b >= 0x80 => {
                non_ascii = true;
                i += 1;
            }
            _ => return None,
        }
    }
}

/// Byte equality of short strings, inline (keys are compared once per value).
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        let x = u64::from_ne_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_ne_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return false;
        }
        i += 8;
    }
    // A byte loop: slice equality would call memcmp for a few bytes.
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[inline]
pub(super) fn skip_blank(chunk: &[u8], pos: &mut usize) {
    while *pos < chunk.len() && is_blank(chunk[*pos]) {
        *pos += 1;
    }
}

/// Four hex digits.
pub(super) fn hex4(h: &[u8]) -> Option<u32> {
    h.iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)?))
}

/// End of the JSON number starting at `start` (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`),
/// which must be followed by a delimiter.
pub(super) fn number_end(chunk: &[u8], start: usize) -> Option<usize> {
    let digits = |i: usize| chunk[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = start;
    if chunk[i] == b'-' {
        i += 1;
    }
    let d = digits(i);
    if d == 0 || (d > 1 && chunk[i] == b'0') {
        return None;
    }
    i += d;
    if chunk.get(i) == Some(&b'.') {
        let f = digits(i + 1);
        if f == 0 {
            return None;
        }
        i += 1 + f;
    }
    if matches!(chunk.get(i), Some(b'e') | Some(b'E')) {
        i += 1;
        if matches!(chunk.get(i), Some(b'+') | Some(b'-')) {
            i += 1;
        }
        let x = digits(i);
        if x == 0 {
            return None;
        }
        i += x;
    }
    match chunk.get(i) {
        None | Some(b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n') => Some(i),
        _ => None,
    }
}

/// An integer literal of at most 18 digits (exact in i64); `None` for anything else
/// (fractions and exponents, which arrow-json truncates or rounds, are left to it).
pub(super) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
    Some(if neg { -v } else { v })
}
