//! Joda-Time patterns (`TIME_PARSE` / `TIME_FORMAT` with a pattern) translated to chrono
//! strftime formats.

use super::zone::Zone;
use chrono::format::{parse as chrono_parse, Parsed, StrftimeItems};
use chrono::{DateTime, Duration, Timelike};

/// A Joda-Time pattern translated to chrono strftime formats.
#[derive(Debug, Clone, PartialEq)]
pub struct JodaPattern {
    parse: Option<String>,
    format: String,
}

impl JodaPattern {
    /// Translates a Joda-Time pattern (`yyyy-MM-dd HH:mm:ss.SSS`, `dd/MMM/yyyy:HH:mm:ss Z`,
    /// `EEE, d MMM yyyy hh:mm a`, quoted literals with `'`).
    pub fn compile(pattern: &str, zone: &Zone) -> Result<JodaPattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parse = String::new();
        let mut format = String::new();
        let mut parse_ok = true;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                i = quoted_literal(&chars, i, &mut parse, &mut format)
                    .ok_or_else(|| format!("Unterminated quote in pattern [{pattern}]"))?;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal(&mut parse, c);
                literal(&mut format, c);
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            let (p, f) = field(c, n, zone)?;
            match p {
                Some(p) => parse.push_str(p),
                None => parse_ok = false,
            }
            format.push_str(&f);
        }
        // Reject formats chrono cannot handle.
        if StrftimeItems::new(&format).any(|it| matches!(it, chrono::format::Item::Error)) {
            return Err(format!("Unsupported pattern [{pattern}]"));
        }
        Ok(JodaPattern {
            parse: parse_ok.then_some(parse),
            format,
        })
    }

    /// Parses `s`; fields missing from the pattern default to 1970-01-01T00:00:00 and the
    /// time is local to `zone` unless the text has an offset. `None` if unparseable.
    pub fn parse(&self, s: &str, zone: &Zone) -> Option<i64> {
        let fmt = self.parse.as_deref()?;
        let mut p = Parsed::new();
        chrono_parse(&mut p, s, StrftimeItems::new(fmt)).ok()?;
        if p.year().is_none() && p.year_div_100().is_none() && p.year_mod_100().is_none() && p.isoyear().is_none() {
            p.set_year(1970).ok()?;
        }
        let week_based = p.isoweek().is_some() || p.week_from_mon().is_some() || p.week_from_sun().is_some();
        if p.month().is_none() && p.ordinal().is_none() && !week_based {
            p.set_month(1).ok()?;
        }
        if p.day().is_none() && p.ordinal().is_none() && !week_based {
            p.set_day(1).ok()?;
        }
        if week_based && p.weekday().is_none() {
            p.set_weekday(chrono::Weekday::Mon).ok()?;
        }
        match (p.hour_div_12(), p.hour_mod_12()) {
            (None, None) => p.set_hour(0).ok()?,
            (None, Some(_)) => p.set_ampm(false).ok()?,
            _ => {}
        }
        if p.minute().is_none() {
            p.set_minute(0).ok()?;
        }
        if p.second().is_none() {
            p.set_second(0).ok()?;
        }
        let date = p.to_naive_date().ok()?;
        let time = p.to_naive_time().ok()?;
        let local = date.and_time(time);
        let local = local.with_nanosecond(local.nanosecond() / 1_000_000 * 1_000_000)?;
        match p.offset() {
            Some(off) => local
                .checked_sub_signed(Duration::seconds(i64::from(off)))
                .map(|u| u.and_utc().timestamp_millis()),
            None => zone.from_local(local),
        }
    }

    /// Formats `t` in `zone`.
    pub fn format(&self, t: i64, zone: &Zone) -> Option<String> {
        let off = zone.fixed_at(t)?;
        let dt = DateTime::from_timestamp_millis(t)?.with_timezone(&off);
        let mut out = String::new();
        use std::fmt::Write;
        write!(out, "{}", dt.format(&self.format)).ok()?;
        Some(out)
    }
}

/// Appends the literal character `c` to a strftime format.
fn literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Copies the quoted literal whose `'` is at `i` to both formats (`''` is a single quote);
/// returns the index after it, `None` if the quote is never closed.
fn quoted_literal(chars: &[char], i: usize, parse: &mut String, format: &mut String) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\'') {
        parse.push('\'');
        format.push('\'');
        return Some(i + 2);
    }
    let mut i = i + 1;
    while i < chars.len() {
        if chars[i] == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                parse.push('\'');
                format.push('\'');
                i += 2;
                continue;
            }
            break;
        }
        literal(parse, chars[i]);
        literal(format, chars[i]);
        i += 1;
    }
    (i < chars.len()).then_some(i + 1)
}

/// The strftime parse and format items of `n` repetitions of the pattern letter `c`; the parse
/// item is `None` for fields that cannot be parsed (zone names, era).
fn field(c: char, n: usize, zone: &Zone) -> Result<(Option<&'static str>, String), String> {
    Ok(match c {
        'y' | 'Y' | 'u' => match n {
            2 => (Some("%y"), "%y".into()),
            _ => (Some("%Y"), "%Y".into()),
        },
        'x' => match n {
            2 => (Some("%g"), "%g".into()),
            _ => (Some("%G"), "%G".into()),
        },
        'w' => (Some("%V"), if n >= 2 { "%V" } else { "%-V" }.into()),
        'e' => (Some("%u"), "%u".into()),
        'E' => {
            if n >= 4 {
                (Some("%A"), "%A".into())
            } else {
                (Some("%a"), "%a".into())
            }
        }
        'M' => match n {
            1 => (Some("%m"), "%-m".into()),
            2 => (Some("%m"), "%m".into()),
            3 => (Some("%b"), "%b".into()),
            _ => (Some("%B"), "%B".into()),
        },
        'd' => (Some("%d"), if n >= 2 { "%d" } else { "%-d" }.into()),
        'D' => (Some("%j"), if n >= 3 { "%j" } else { "%-j" }.into()),
        'a' => (Some("%p"), "%p".into()),
        'H' | 'k' => (Some("%H"), if n >= 2 { "%H" } else { "%-H" }.into()),
        'h' | 'K' => (Some("%I"), if n >= 2 { "%I" } else { "%-I" }.into()),
        'm' => (Some("%M"), if n >= 2 { "%M" } else { "%-M" }.into()),
        's' => (Some("%S"), if n >= 2 { "%S" } else { "%-S" }.into()),
        'S' => match n {
            1..=3 => (Some("%3f"), "%3f".into()),
            4..=6 => (Some("%6f"), "%6f".into()),
            _ => (Some("%9f"), "%9f".into()),
        },
        'Z' => match n {
            1 => (Some("%#z"), "%z".into()),
            2 => (Some("%#z"), "%:z".into()),
            _ => (None, zone.name().replace('%', "%%")),
        },
        'z' => (None, if zone.is_utc() { "UTC".into() } else { "%Z".into() }),
        'G' => (None, "AD".into()),
        _ => return Err(format!("Illegal pattern component: {}", c.to_string().repeat(n))),
    })
}
