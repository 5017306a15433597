//! Druid's paths into nested values: JSONPath (`$.a.b[0]`, `$['a.b']`, `$.` for the root)
//! and jq style (`.a.b[0]`, `."a.b"`, `.["a"]`). Invalid paths are errors in Druid's words
//! (`JSONPath [x] is invalid, ...`), never panics; parsing is linear and iterative.

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    /// An object field.
    Field(String),
    /// An array element (negative counts from the end).
    Index(i64),
}

/// Parses a path: jq style when it starts with `.`, else JSONPath (which must start with `$`).
/// An empty path is the root.
pub fn parse_path(path: &str) -> Result<Vec<PathPart>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    if path.starts_with('.') {
        return parse_with(path, 0, Syntax::Jq);
    }
    if !path.starts_with('$') {
        return Err(bad(path, Syntax::JsonPath, "it must start with '$'"));
    }
    parse_with(path, 1, Syntax::JsonPath)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    JsonPath,
    Jq,
}

impl Syntax {
    fn quote(self) -> char {
        match self {
            Syntax::JsonPath => '\'',
            Syntax::Jq => '"',
        }
    }
}

fn bad(path: &str, syntax: Syntax, why: &str) -> String {
    let shown: String = path.chars().take(200).collect();
    let ellipsis = if shown.len() < path.len() { "..." } else { "" };
    match syntax {
        Syntax::JsonPath => format!("JSONPath [{shown}{ellipsis}] is invalid, {why}"),
        Syntax::Jq => format!("jq path [{shown}{ellipsis}] is invalid, {why}"),
    }
}

/// The scanner shared by both syntaxes; `start` is the byte after the root marker.
fn parse_with(path: &str, start: usize, syntax: Syntax) -> Result<Vec<PathPart>, String> {
    let b = path.as_bytes();
    let q = syntax.quote() as u8;
    let err = |why: &str| bad(path, syntax, why);
    let mut parts = Vec::new();
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                if i == b.len() {
                    break; // a trailing '.' (`$.` is the root)
                }
                match b[i] {
                    b'.' => return Err(err("path parts separated by '.' must not be empty")),
                    b'[' if syntax == Syntax::JsonPath || i > 1 => {
                        return Err(err(&format!(
                            "found '[' at invalid position [{i}], must not follow '.' or must be contained with '{}'",
                            syntax.quote()
                        )))
                    }
                    b'[' => {}
                    c if c == q && syntax == Syntax::Jq => {
                        let (name, next) = quoted(b, i + 1, q).ok_or_else(|| err("unterminated '\"'"))?;
                        parts.push(PathPart::Field(name));
                        i = next;
                    }
                    _ => {
                        let end = (i..b.len())
                            .find(|&j| b[j] == b'.' || b[j] == b'[' || (syntax == Syntax::Jq && b[j] == b'?'))
                            .unwrap_or(b.len());
                        parts.push(PathPart::Field(path[i..end].to_string()));
                        i = end;
                    }
                }
            }
            b'?' if syntax == Syntax::Jq => i += 1,
            b'[' => {
                if b.get(i + 1) == Some(&q) {
                    // A quoted name in brackets ends at the quote right before ']'.
                    let close = (i + 2..b.len())
                        .find(|&j| b[j] == q && b[j - 1] != b'\\' && b.get(j + 1) == Some(&b']'))
                        .ok_or_else(|| {
                            err(if syntax == Syntax::Jq {
                                "unterminated '\"'"
                            } else {
                                "unterminated single-quote (')"
                            })
                        })?;
                    parts.push(PathPart::Field(String::from_utf8_lossy(&b[i + 2..close]).into_owned()));
                    i = close + 2;
                    continue;
                }
                let close = (i + 1..b.len())
                    .find(|&j| b[j] == b']')
                    .ok_or_else(|| err("unterminated '['"))?;
                let spec = &path[i + 1..close];
                let index = spec.parse::<i32>().map_err(|_| {
                    err(&format!(
                        "array specifier [{spec}] should be a number, it was not.  Use {} if this value was meant to be a field name",
                        if syntax == Syntax::Jq { "\"\"" } else { "'" }
                    ))
                })?;
                parts.push(PathPart::Index(i64::from(index)));
                i = close + 1;
            }
            _ => return Err(err("path parts must be separated with '.'")),
        }
    }
    Ok(parts)
}

/// The quoted name starting at byte `from` (after the opening quote `q`): its text and the
/// byte after the closing quote. A quote preceded by a backslash does not close it.
fn quoted(b: &[u8], from: usize, q: u8) -> Option<(String, usize)> {
    let close = (from..b.len()).find(|&j| b[j] == q && b[j - 1] != b'\\')?;
    Some((String::from_utf8_lossy(&b[from..close]).into_owned(), close + 1))
}

/// A path in Druid's normalized JSONPath form (`$.a[0]`, `$['a.b']`; `$` for the root).
pub fn normalized_json_path(parts: &[PathPart]) -> String {
    let mut out = String::from("$");
    for p in parts {
        match p {
            PathPart::Field(id) if id.contains(['.', '\'', '"', '[', ']']) => {
                out.push_str("['");
                out.push_str(id);
                out.push_str("']");
            }
            PathPart::Field(id) => {
                out.push('.');
                out.push_str(id);
            }
            PathPart::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathPart::{Field, Index};

    fn f(s: &str) -> PathPart {
        Field(s.to_string())
    }

    #[test]
    fn json_paths() {
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(parse_path("$.").unwrap(), vec![]);
        assert_eq!(parse_path("").unwrap(), vec![]);
        assert_eq!(parse_path("$.a.b[0]").unwrap(), vec![f("a"), f("b"), Index(0)]);
        assert_eq!(parse_path("$['y']").unwrap(), vec![f("y")]);
        assert_eq!(parse_path("$['a.b'][1].c").unwrap(), vec![f("a.b"), Index(1), f("c")]);
        assert_eq!(parse_path("$[0][-1]").unwrap(), vec![Index(0), Index(-1)]);
        assert_eq!(parse_path("$.x.").unwrap(), vec![f("x")]);
        assert_eq!(
            parse_path("$.phoneNumbers[0].number").unwrap(),
            vec![f("phoneNumbers"), Index(0), f("number")]
        );
    }

    #[test]
    fn jq_paths() {
        assert_eq!(parse_path(".").unwrap(), vec![]);
        assert_eq!(parse_path(".a.b[0]").unwrap(), vec![f("a"), f("b"), Index(0)]);
        assert_eq!(parse_path(".\"a.b\".c").unwrap(), vec![f("a.b"), f("c")]);
        assert_eq!(parse_path(".[\"x\"][2]").unwrap(), vec![f("x"), Index(2)]);
        assert_eq!(parse_path(".a?.b").unwrap(), vec![f("a"), f("b")]);
        assert_eq!(parse_path(".[0]").unwrap(), vec![Index(0)]);
    }

    #[test]
    fn invalid_paths_are_errors_in_druids_words() {
        let e = |p: &str| parse_path(p).unwrap_err();
        assert_eq!(e("abc"), "JSONPath [abc] is invalid, it must start with '$'");
        assert_eq!(
            e("$..a"),
            "JSONPath [$..a] is invalid, path parts separated by '.' must not be empty"
        );
        assert!(
            e("$[x]").contains("array specifier [x] should be a number"),
            "{}",
            e("$[x]")
        );
        assert!(e("$[1").contains("unterminated '['"));
        assert!(e("$['a").contains("unterminated single-quote"));
        assert!(e("$['a'x]").contains("unterminated single-quote"));
        assert_eq!(parse_path("$['it's']").unwrap(), vec![f("it's")]);
        assert!(e("$a").contains("path parts must be separated with '.'"));
        assert!(e("$.[0]").contains("found '['"));
        assert!(e(".a..b").starts_with("jq path [.a..b] is invalid"));
        assert!(e("$[99999999999]").contains("should be a number"));
    }

    #[test]
    fn huge_paths_parse_linearly() {
        let p = "$".to_string() + &".a".repeat(200_000);
        assert_eq!(parse_path(&p).unwrap().len(), 200_000);
        let e = parse_path(&("$".to_string() + &"[".repeat(100_000))).unwrap_err();
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn normalized() {
        assert_eq!(normalized_json_path(&[]), "$");
        assert_eq!(normalized_json_path(&[f("a"), Index(2), f("b.c")]), "$.a[2]['b.c']");
    }
}
