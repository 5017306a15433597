use super::*;
use msq_engine::granularity::{format_millis, parse_instant};

fn ms(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn utc() -> Zone {
    Zone::utc()
}

#[test]
fn periods() {
    assert_eq!(Period::parse("PT1H").unwrap().hours, 1);
    assert_eq!(Period::parse("p3m").unwrap().months, 3);
    let p = Period::parse("P1Y2M3W4DT5H6M7.5S").unwrap();
    assert_eq!(p.values(), [1, 2, 3, 4, 5, 6, 7, 500]);
    assert!(Period::parse("P").is_none());
    assert!(Period::parse("PT").is_none());
    assert!(Period::parse("1H").is_none());
    assert!(Period::parse("P0D").is_none());
    assert!(Period::parse("PT1X").is_none());
}

#[test]
fn floors_utc() {
    let t = ms("2015-09-12T00:46:58.771Z");
    let f = |p: &str| format_millis(floor(t, &Period::parse(p).unwrap(), None, &utc()).unwrap());
    assert_eq!(f("PT1S"), "2015-09-12T00:46:58.000Z");
    assert_eq!(f("PT15M"), "2015-09-12T00:45:00.000Z");
    assert_eq!(f("PT1H"), "2015-09-12T00:00:00.000Z");
    assert_eq!(f("PT6H"), "2015-09-12T00:00:00.000Z");
    assert_eq!(f("P1D"), "2015-09-12T00:00:00.000Z");
    assert_eq!(f("P2D"), "2015-09-12T00:00:00.000Z");
    assert_eq!(f("P3D"), "2015-09-11T00:00:00.000Z");
    assert_eq!(f("P1W"), "2015-09-07T00:00:00.000Z");
    assert_eq!(f("P1M"), "2015-09-01T00:00:00.000Z");
    assert_eq!(f("P3M"), "2015-07-01T00:00:00.000Z");
    assert_eq!(f("P1Y"), "2015-01-01T00:00:00.000Z");
    assert_eq!(f("P2Y"), "2014-01-01T00:00:00.000Z");
    // Compound fixed period: from the epoch.
    assert_eq!(f("PT1H30M"), "2015-09-12T00:00:00.000Z");
    // Before the epoch.
    let neg = ms("1969-12-31T23:30:00Z");
    assert_eq!(
        format_millis(floor(neg, &Period::parse("PT1H").unwrap(), None, &utc()).unwrap()),
        "1969-12-31T23:00:00.000Z"
    );
    assert_eq!(
        format_millis(floor(neg, &Period::parse("P3M").unwrap(), None, &utc()).unwrap()),
        "1969-10-01T00:00:00.000Z"
    );
}

#[test]
fn floors_with_origin_and_zone() {
    let t = ms("2015-09-12T00:46:58.771Z");
    let origin = Some(ms("2015-09-01T00:20:00Z"));
    let p = Period::parse("PT1H").unwrap();
    assert_eq!(
        format_millis(floor(t, &p, origin, &utc()).unwrap()),
        "2015-09-12T00:20:00.000Z"
    );
    let la = Zone::parse("America/Los_Angeles").unwrap();
    let d = Period::parse("P1D").unwrap();
    // 00:46Z on the 12th is 17:46 PDT on the 11th.
    assert_eq!(
        format_millis(floor(t, &d, None, &la).unwrap()),
        "2015-09-11T07:00:00.000Z"
    );
    let kolkata = Zone::parse("+05:30").unwrap();
    assert_eq!(
        format_millis(floor(t, &p, None, &kolkata).unwrap()),
        "2015-09-12T00:30:00.000Z"
    );
    assert_eq!(
        format_millis(ceil(t, &p, None, &kolkata).unwrap()),
        "2015-09-12T01:30:00.000Z"
    );
}

#[test]
fn ceil_and_shift() {
    let t = ms("2015-09-12T00:46:58.771Z");
    let h = Period::parse("PT1H").unwrap();
    assert_eq!(
        format_millis(ceil(t, &h, None, &utc()).unwrap()),
        "2015-09-12T01:00:00.000Z"
    );
    let aligned = ms("2015-09-12T01:00:00Z");
    assert_eq!(ceil(aligned, &h, None, &utc()), Some(aligned));
    let m = Period::parse("P1M").unwrap();
    assert_eq!(
        format_millis(shift(ms("2015-01-31T10:00:00Z"), &m, 1, &utc()).unwrap()),
        "2015-02-28T10:00:00.000Z"
    );
    assert_eq!(
        format_millis(shift(t, &h, -2, &utc()).unwrap()),
        "2015-09-11T22:46:58.771Z"
    );
    assert_eq!(
        format_millis(shift(t, &Period::parse("P1D").unwrap(), 3, &utc()).unwrap()),
        "2015-09-15T00:46:58.771Z"
    );
}

#[test]
fn diffs() {
    let (a, b) = (ms("2015-01-31T10:00:00Z"), ms("2015-03-30T09:00:00Z"));
    let d = |u: &str| diff(DiffUnit::parse(u).unwrap(), a, b, &utc()).unwrap();
    assert_eq!(d("DAY"), 57);
    assert_eq!(d("HOUR"), 57 * 24 + 23);
    assert_eq!(d("WEEK"), 8);
    // Jan 31 -> Mar 30 is one whole month (Feb 28 + ...), not two.
    assert_eq!(d("MONTH"), 1);
    assert_eq!(d("QUARTER"), 0);
    assert_eq!(d("sql_tsi_day"), 57);
    assert_eq!(diff(DiffUnit::parse("DAY").unwrap(), b, a, &utc()), Some(-57));
    assert!(DiffUnit::parse("FORTNIGHT").is_none());
}

#[test]
fn extracts() {
    let t = ms("2015-09-12T00:46:58.771Z");
    let e = |u: &str| extract(t, Unit::parse(u).unwrap(), &utc()).unwrap();
    assert_eq!(e("EPOCH"), 1442018818);
    assert_eq!(e("SECOND"), 58);
    assert_eq!(e("MINUTE"), 46);
    assert_eq!(e("HOUR"), 0);
    assert_eq!(e("DAY"), 12);
    assert_eq!(e("DOW"), 6);
    assert_eq!(e("ISODOW"), 6);
    assert_eq!(e("DOY"), 255);
    assert_eq!(e("WEEK"), 37);
    assert_eq!(e("MONTH"), 9);
    assert_eq!(e("QUARTER"), 3);
    assert_eq!(e("YEAR"), 2015);
    assert_eq!(e("MILLISECOND"), 771);
    let la = Zone::parse("America/Los_Angeles").unwrap();
    assert_eq!(extract(t, Unit::Hour, &la), Some(17));
    assert_eq!(extract(t, Unit::Day, &la), Some(11));
}

#[test]
fn iso_parsing() {
    let z = utc();
    assert_eq!(
        parse_iso("2015-09-12T00:46:58.771Z", &z),
        Some(ms("2015-09-12T00:46:58.771Z"))
    );
    assert_eq!(parse_iso("2015-09-12 00:46:58", &z), Some(ms("2015-09-12T00:46:58Z")));
    assert_eq!(parse_iso("2015-09-12", &z), Some(ms("2015-09-12T00:00:00Z")));
    assert_eq!(
        parse_iso("2015-09-12T02:46:58+02:00", &z),
        Some(ms("2015-09-12T00:46:58Z"))
    );
    assert_eq!(parse_iso("2015-09-12T02:46+0200", &z), Some(ms("2015-09-12T00:46:00Z")));
    assert_eq!(parse_iso("2015-09", &z), Some(ms("2015-09-01T00:00:00Z")));
    assert_eq!(parse_iso("2015-09-12T00", &z), Some(ms("2015-09-12T00:00:00Z")));
    assert_eq!(
        parse_iso("2015-09-12T00:46:58.123456789Z", &z),
        Some(ms("2015-09-12T00:46:58.123Z"))
    );
    assert_eq!(parse_iso("not a time", &z), None);
    assert_eq!(parse_iso("2015-13-01", &z), None);
    assert_eq!(parse_iso("2015-09-12X", &z), None);
    assert_eq!(parse_iso("", &z), None);
    let la = Zone::parse("America/Los_Angeles").unwrap();
    assert_eq!(parse_iso("2015-09-11 17:46:58", &la), Some(ms("2015-09-12T00:46:58Z")));
}

#[test]
fn joda_patterns() {
    let z = utc();
    let p = JodaPattern::compile("yyyy-MM-dd HH:mm:ss", &z).unwrap();
    assert_eq!(p.parse("2015-09-12 00:46:58", &z), Some(ms("2015-09-12T00:46:58Z")));
    assert_eq!(p.parse("garbage", &z), None);
    assert_eq!(p.format(ms("2015-09-12T00:46:58Z"), &z).unwrap(), "2015-09-12 00:46:58");
    let p = JodaPattern::compile("dd/MMM/yyyy:HH:mm:ss Z", &z).unwrap();
    assert_eq!(
        p.parse("12/Sep/2015:02:46:58 +0200", &z),
        Some(ms("2015-09-12T00:46:58Z"))
    );
    assert_eq!(
        p.format(ms("2015-09-12T00:46:58Z"), &z).unwrap(),
        "12/Sep/2015:00:46:58 +0000"
    );
    let p = JodaPattern::compile("EEE, d MMM yyyy hh:mm a", &z).unwrap();
    assert_eq!(
        p.format(ms("2015-09-12T13:05:00Z"), &z).unwrap(),
        "Sat, 12 Sep 2015 01:05 PM"
    );
    assert_eq!(
        p.parse("Sat, 12 Sep 2015 01:05 PM", &z),
        Some(ms("2015-09-12T13:05:00Z"))
    );
    let p = JodaPattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", &z).unwrap();
    assert_eq!(
        p.format(ms("2015-09-12T00:46:58.771Z"), &z).unwrap(),
        "2015-09-12T00:46:58.771+00:00"
    );
    assert_eq!(
        p.parse("2015-09-12T00:46:58.771Z", &z),
        Some(ms("2015-09-12T00:46:58.771Z"))
    );
    let p = JodaPattern::compile("yyyy", &z).unwrap();
    assert_eq!(p.parse("2015", &z), Some(ms("2015-01-01T00:00:00Z")));
    let p = JodaPattern::compile("MM/dd/yyyy", &z).unwrap();
    assert_eq!(p.parse("9/12/2015", &z), Some(ms("2015-09-12T00:00:00Z")));
    assert!(JodaPattern::compile("yyyy-qq", &z).is_err());
    assert!(JodaPattern::compile("'unterminated", &z).is_err());
    let p = JodaPattern::compile("'Day' D 'of' yyyy, '100%'", &z).unwrap();
    assert_eq!(
        p.format(ms("2015-09-12T00:00:00Z"), &z).unwrap(),
        "Day 255 of 2015, 100%"
    );
}

#[test]
fn zones() {
    assert!(Zone::parse("UTC").unwrap().is_utc());
    assert_eq!(Zone::parse("+05:30").unwrap().offset_secs(0), Some(19800));
    assert_eq!(Zone::parse("-0800").unwrap().offset_secs(0), Some(-28800));
    assert_eq!(Zone::parse("UTC+8").unwrap().offset_secs(0), Some(28800));
    assert_eq!(
        Zone::parse("america/los_angeles").unwrap().name(),
        "America/Los_Angeles"
    );
    assert!(Zone::parse("Mars/Base").is_none());
    assert_eq!(
        format_iso(ms("2015-09-12T00:46:58.771Z"), &Zone::parse("+05:30").unwrap()).unwrap(),
        "2015-09-12T06:16:58.771+05:30"
    );
}
