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
}
