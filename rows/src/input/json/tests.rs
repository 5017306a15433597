//! The fast path against arrow-json.

use super::flat::*;
use super::scan::{next_special, same_bytes};
use super::*;
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("l", DataType::Int64, true),
        Field::new("d", DataType::Float64, true),
        Field::new("f", DataType::Float32, true),
        Field::new("t", DataType::Utf8, true),
    ]))
}

/// What arrow-json makes of `text` (one batch), or `None` if it fails or the row count
/// does not match the lines.
fn arrow_json(text: &str, lines: usize) -> Option<RecordBatch> {
    let mut d = build_decoder(&schema(), 1024).unwrap();
    let consumed = d.decode(text.as_bytes()).ok()?;
    if consumed != text.len() || d.has_partial_record() || d.len() != lines {
        return None;
    }
    d.flush().ok().flatten()
}

fn lines_of(text: &str) -> usize {
    text.split('\n')
        .filter(|l| !l.bytes().all(|b| b.is_ascii_whitespace()))
        .count()
}

fn flat(text: &str) -> Option<RecordBatch> {
    let mut f = FlatDecoder::new(&schema()).unwrap();
    f.decode(text.as_bytes(), lines_of(text), &schema())
}

#[test]
fn takes_flat_objects_exactly_as_arrow_json_decodes_them() {
    let cases = [
        r#"{"s":"a","l":1,"d":1.5,"f":2.25,"t":"x"}"#,
        "{\"s\":\"a\"}\n\n  \n{\"l\":-42}\r\n{}\n",
        r#"{"s":12.50,"t":true,"l":0,"d":-0.0,"f":1e3}"#,
        r#"{"s":false,"t":null,"l":null,"d":null,"f":null}"#,
        r#"  { "s" : "sp aces" , "extra" : {"ignored": "no"} }"#,
        r#"{"extra":[1,2],"s":"x"}"#,
        r#"{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 end","l":-9223372036854775}"#,
        r#"{"s":"ünïcödé ✓","t":"日本","other":"x"}"#,
        r#"{"d":123456789012345678901234567890,"f":-1.5E-3,"s":1e-7}"#,
        r#"{"unknown":1,"s":"a","unknown2":"b","l":7}"#,
        r#"{"s":"\u0000"}"#,
    ];
    for text in cases {
        let lines = lines_of(text);
        let want = arrow_json(text, lines);
        let got = flat(text);
        if text.contains("ignored") || text.contains("[1,2]") {
            assert!(got.is_none(), "nested values are arrow-json's: {text}");
            assert!(want.is_some());
            continue;
        }
        assert!(want.is_some(), "arrow-json takes {text}");
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn leaves_the_unusual_to_arrow_json() {
    for text in [
        r#"{"l":1.5}"#,                  // truncated by arrow-json
        r#"{"l":"12"}"#,                 // a string in a LONG column
        r#"{"l":true}"#,                 // a boolean in a LONG column
        r#"{"l":12345678901234567890}"#, // out of range
        r#"{"s":"a","s":"b"}"#,          // a repeated key
        r#"{"s\u0041":"a"}"#,            // an escaped key
        r#"{"s":"a"} {"s":"b"}"#,        // two values on a line
        "{\"s\":\n\"a\"}",               // an object over two lines
        r#"{"s":"a""#,                   // unterminated
        r#"{"s":01}"#,                   // not JSON
        r#"{"s":"\ud800"}"#,             // a lone surrogate
        r#"{"s":"\udc00x"}"#,
        "{\"s\":\"tab\there\"}", // a control character
        r#"["s","a"]"#,
        r#"{"d":1e999}"#,
        "{\"s\":\"a\"}\n\u{c}\n", // form feed line
    ] {
        assert!(flat(text).is_none(), "{text}");
    }
    let mut f = FlatDecoder::new(&schema()).unwrap();
    assert!(f
        .decode(&[b'{', b'"', b's', b'"', b':', b'"', 0xFF, b'"', b'}'], 1, &schema())
        .is_none());
    assert_eq!(f.declined, 1);
    assert!(f.decode(br#"{"s":"ok"}"#, 1, &schema()).is_some());
    assert_eq!(f.declined, 0);
}

#[test]
fn only_flat_types_and_nullable_columns() {
    let list = Arc::new(Schema::new(vec![Field::new(
        "a",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )]));
    assert!(FlatDecoder::new(&list).is_none());
    let required = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, false)]));
    assert!(FlatDecoder::new(&required).is_none());
    assert!(FlatDecoder::new(&schema()).is_some());
}

#[test]
fn finds_special_bytes_like_a_byte_loop() {
    let mut text: Vec<u8> = b"plain text, then \"quoted\\ and \x01 and \xc3\xa9 \x7f~ end".to_vec();
    text.extend(std::iter::repeat_n(b'a', 40));
    for start in 0..text.len() {
        let want = (start..text.len())
            .find(|&i| matches!(text[i], b'"' | b'\\') || text[i] < 0x20 || text[i] >= 0x80)
            .unwrap_or(text.len());
        assert_eq!(next_special(&text, start), want, "from {start}");
    }
    assert!(same_bytes(b"countryName", b"countryName"));
    assert!(!same_bytes(b"countryName", b"countryNamf"));
    assert!(!same_bytes(b"channel", b"channels"));
}

#[test]
fn learns_key_order_and_follows_changes() {
    let text = "{\"s\":\"a\",\"l\":1}\n{\"l\":2,\"s\":\"b\"}\n{\"t\":\"c\",\"s\":\"d\",\"l\":3}\n";
    assert_eq!(flat(text), arrow_json(text, 3));
}
