//! JSON values as Druid's nested-data functions see them: parsing with a nesting limit,
//! canonical text, Druid's scalar conversions, literal paths, shallow merge and the key
//! order of Druid's `JSON_OBJECT` (a Java `HashMap`).

use super::path::{normalized_json_path, PathPart};
use serde_json::{Map, Number, Value};

/// Deepest nesting a JSON value may have. serde_json refuses anything deeper than 128 levels
/// while parsing (so a hostile value never reaches a recursive drop or serializer).
pub const MAX_DEPTH: usize = 128;

/// Parses JSON text; an error names what is wrong (invalid JSON, nesting over [`MAX_DEPTH`]).
pub fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Value>(text).map_err(|e| e.to_string())
}

/// The canonical text of a value (compact, keys in their order, numbers as parsed).
pub fn to_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

/// A scalar at a path as Druid's `JSON_VALUE` returns it (booleans are Druid LONGs 1/0);
/// `None` for null, missing, objects and arrays.
pub fn scalar(v: &Value) -> Option<Scalar<'_>> {
    match v {
        Value::String(s) => Some(Scalar::Text(s)),
        Value::Bool(b) => Some(Scalar::Long(i64::from(*b))),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Scalar::Long(i),
            None => Scalar::Double(n.as_f64().unwrap_or(f64::NAN)),
        }),
        _ => None,
    }
}

/// A JSON scalar in Druid's expression types.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Text(&'a str),
    Long(i64),
    Double(f64),
}

impl Scalar<'_> {
    /// As VARCHAR: doubles as Java prints them (`542.0`, `1.0E21`).
    pub fn to_varchar(&self) -> String {
        match self {
            Scalar::Text(s) => s.to_string(),
            Scalar::Long(i) => i.to_string(),
            Scalar::Double(d) => java_double(*d),
        }
    }

    /// As BIGINT: doubles truncate; text is parsed as a long, else as a double (truncated).
    pub fn to_bigint(&self) -> Option<i64> {
        match self {
            Scalar::Long(i) => Some(*i),
            Scalar::Double(d) => d.is_finite().then_some(*d as i64),
            Scalar::Text(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().filter(|d| d.is_finite()).map(|d| d as i64))
            }
        }
    }

    /// As DOUBLE: text is parsed as a number (else NULL).
    pub fn to_double(&self) -> Option<f64> {
        match self {
            Scalar::Long(i) => Some(*i as f64),
            Scalar::Double(d) => Some(*d),
            Scalar::Text(s) => s.trim().parse::<f64>().ok(),
        }
    }
}

/// A double as Java's `Double.toString` prints it: `542.0`, `0.001`, `1.0E-4`, `1.0E7`.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = d.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Scientific: shortest digits, a mantissa with a fraction, `E` and the exponent.
    let s = format!("{d:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

/// The value at `path` (`None` when missing). A negative array index counts from the end.
pub fn find<'a>(v: &'a Value, path: &[PathPart]) -> Option<&'a Value> {
    let mut cur = v;
    for part in path {
        cur = match (part, cur) {
            (PathPart::Field(name), Value::Object(m)) => m.get(name)?,
            (PathPart::Index(i), Value::Array(a)) => {
                let len = a.len() as i64;
                let i = if *i < 0 { len + *i } else { *i };
                if i < 0 {
                    return None;
                }
                a.get(usize::try_from(i).ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// The keys at `path`: an object's field names, an array's indexes; `None` otherwise.
pub fn keys(v: &Value, path: &[PathPart]) -> Option<Vec<String>> {
    match find(v, path)? {
        Value::Object(m) => Some(m.keys().cloned().collect()),
        Value::Array(a) => Some((0..a.len()).map(|i| i.to_string()).collect()),
        _ => None,
    }
}

/// Every path to a literal value, in JSONPath form and document order. An array holding only
/// scalars (or nothing) is one literal; other arrays list their elements by index.
pub fn literal_paths(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    // Iterative walk (values are at most MAX_DEPTH deep, but the stack stays flat anyway).
    let mut stack: Vec<(Vec<PathPart>, &Value)> = vec![(Vec::new(), v)];
    while let Some((path, v)) = stack.pop() {
        let children: Vec<(PathPart, &Value)> = match v {
            Value::Object(m) => m.iter().map(|(k, v)| (PathPart::Field(k.clone()), v)).collect(),
            Value::Array(a) if a.iter().any(|e| e.is_object() || e.is_array()) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (PathPart::Index(i as i64), v))
                .collect(),
            _ => {
                out.push(normalized_json_path(&path));
                continue;
            }
        };
        for (part, child) in children.into_iter().rev() {
            let mut p = path.clone();
            p.push(part);
            stack.push((p, child));
        }
    }
    out
}

/// Merges objects left to right (`JSON_MERGE`): a later value wins a key; a non-object
/// argument replaces everything before it.
pub fn merge(values: Vec<Value>) -> Value {
    let mut acc: Option<Value> = None;
    for v in values {
        acc = Some(match (acc, v) {
            (Some(Value::Object(mut base)), Value::Object(more)) => {
                for (k, v) in more {
                    base.insert(k, v);
                }
                Value::Object(base)
            }
            (_, v) => v,
        });
    }
    acc.unwrap_or(Value::Null)
}

/// An object of `pairs` in the order Druid's `JSON_OBJECT` prints it: Java `HashMap`
/// iteration order (bucket of the spread `String.hashCode`, then insertion order).
pub fn java_hash_map(pairs: Vec<(String, Value)>) -> Value {
    let mut unique: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match unique.iter_mut().find(|(existing, _)| *existing == k) {
            Some(slot) => slot.1 = v,
            None => unique.push((k, v)),
        }
    }
    let mut capacity: u64 = 16;
    while unique.len() as u64 > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        u64::from(h ^ (h >> 16)) & (capacity - 1)
    };
    let mut order: Vec<(u64, usize)> = unique.iter().enumerate().map(|(i, (k, _))| (bucket(k), i)).collect();
    order.sort();
    let mut slots: Vec<Option<(String, Value)>> = unique.into_iter().map(Some).collect();
    let mut map = Map::new();
    for (_, i) in order {
        if let Some((k, v)) = slots[i].take() {
            map.insert(k, v);
        }
    }
    Value::Object(map)
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// A JSON number for a double (`None` for NaN and infinities).
pub fn number(d: f64) -> Value {
    Number::from_f64(d).map(Value::Number).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::super::path::parse_path;
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(542.0), "542.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1e21), "1.0E21");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(-0.001), "-0.001");
        assert_eq!(java_double(0.0), "0.0");
    }

    #[test]
    fn scalars_convert_as_druid() {
        let v: Value = serde_json::from_str(r#"{"a":"40.00","b":542.5,"c":true,"d":"x","e":[1]}"#).unwrap();
        let at = |p: &str| find(&v, &parse_path(p).unwrap()).and_then(scalar);
        assert_eq!(at("$.a").unwrap().to_bigint(), Some(40));
        assert_eq!(at("$.a").unwrap().to_double(), Some(40.0));
        assert_eq!(at("$.b").unwrap().to_bigint(), Some(542));
        assert_eq!(at("$.b").unwrap().to_varchar(), "542.5");
        assert_eq!(at("$.c").unwrap().to_varchar(), "1");
        assert_eq!(at("$.d").unwrap().to_bigint(), None);
        assert_eq!(at("$.e"), None);
        assert_eq!(at("$.missing"), None);
    }

    #[test]
    fn negative_indexes_count_from_the_end() {
        let v: Value = serde_json::from_str("[1,2,3]").unwrap();
        assert_eq!(find(&v, &parse_path("$[-1]").unwrap()), Some(&Value::from(3)));
        assert_eq!(find(&v, &parse_path("$[-4]").unwrap()), None);
        assert_eq!(find(&v, &parse_path("$[3]").unwrap()), None);
    }

    #[test]
    fn literal_paths_in_document_order() {
        let v: Value = serde_json::from_str(r#"{"x":1,"y":[1,2],"z":[{"a":null},[3]],"w.v":{"q":"s"}}"#).unwrap();
        assert_eq!(
            literal_paths(&v),
            vec!["$.x", "$.y", "$.z[0].a", "$.z[1]", "$['w.v'].q"]
        );
        assert_eq!(literal_paths(&Value::from(5)), vec!["$"]);
    }

    #[test]
    fn json_object_order_is_java_hash_map_order() {
        // Druid's docs: JSON_OBJECT(KEY 'shipTo' ..., KEY 'details' ...) prints details first.
        let v = java_hash_map(vec![
            ("shipTo".into(), Value::from(1)),
            ("details".into(), Value::from(2)),
        ]);
        assert_eq!(to_text(&v), r#"{"details":2,"shipTo":1}"#);
        let v = java_hash_map(vec![("x".into(), Value::from(1)), ("x".into(), Value::from(2))]);
        assert_eq!(to_text(&v), r#"{"x":2}"#);
    }

    #[test]
    fn merge_is_shallow_and_rightmost_wins() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":1}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"d":2},"e":3}"#).unwrap();
        assert_eq!(to_text(&merge(vec![a, b])), r#"{"a":1,"b":{"d":2},"e":3}"#);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.contains("recursion limit"), "{e}");
        let deep_obj = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
        assert!(parse(&deep_obj).is_err());
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&ok).is_ok());
    }
}
