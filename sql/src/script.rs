//! Splits a script into statements at top-level semicolons.

/// The statements of `script`, split at `;` outside quotes and comments. Pieces holding
/// only whitespace and comments are dropped.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut meaningful = false;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                meaningful = true;
                cur.push(c);
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == c {
                        if chars.peek() == Some(&c) {
                            cur.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                cur.push(c);
                for d in chars.by_ref() {
                    cur.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                cur.push(c);
                cur.push(chars.next().expect("peeked"));
                let mut prev = ' ';
                for d in chars.by_ref() {
                    cur.push(d);
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            ';' => {
                if meaningful {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                meaningful = false;
            }
            c => {
                if !c.is_whitespace() {
                    meaningful = true;
                }
                cur.push(c);
            }
        }
    }
    if meaningful {
        out.push(cur.trim().to_string());
    }
    out
}

/// The requests of `script`: its statements, each with the `SET` statements before it (a
/// `SET` sets context for the statement after it, as in one request to Druid). `SET`s at the
/// end, with no statement after them, are a request of their own (which fails as Druid's).
pub fn split_requests(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sets = String::new();
    for stmt in split_statements(script) {
        if crate::statement::is_set_statement(&stmt) {
            sets.push_str(&stmt);
            sets.push_str(";\n");
        } else {
            out.push(format!("{sets}{stmt}"));
            sets.clear();
        }
    }
    if !sets.is_empty() {
        out.push(sets);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let s = "-- intro; still comment\nSELECT 'a;b' AS \"x;y\";\n/* c; */ SELECT 2;  \n -- trailing";
        let v = split_statements(s);
        assert_eq!(v.len(), 2);
        assert!(v[0].ends_with("SELECT 'a;b' AS \"x;y\""));
        assert!(v[1].ends_with("SELECT 2"));
        assert_eq!(split_statements("SELECT 'it''s;'"), vec!["SELECT 'it''s;'".to_string()]);
        assert!(split_statements(" ; -- nothing\n").is_empty());
    }

    #[test]
    fn set_statements_go_with_the_statement_after_them() {
        let s = "SET maxNumTasks = 3; set x = 'a;b';\nSELECT 1;\nSELECT 2; SET y = 1;";
        assert_eq!(
            split_requests(s),
            vec![
                "SET maxNumTasks = 3;\nset x = 'a;b';\nSELECT 1".to_string(),
                "SELECT 2".to_string(),
                "SET y = 1;\n".to_string(),
            ]
        );
    }
}
