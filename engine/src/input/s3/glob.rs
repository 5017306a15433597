//! Druid's `objectGlob`: Java's `FileSystem#getPathMatcher("glob:…")` rules, applied to the
//! object key (`bar/file.json` of `s3://foo/bar/file.json`).
//!
//! `*` matches within one path component, `**` across components, `?` one character of a
//! component, `[abc]` / `[a-z]` / `[!a]` one character from (or not from) a set, `{a,b}` any
//! of the comma-separated subpatterns (not nested), and `\` escapes the next character.

use crate::error::{MsqError, Result};

/// Most subpattern combinations a glob's `{…}` groups may expand to.
const MAX_ALTERNATIVES: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    DoubleStar,
    /// `[...]`: inclusive ranges, negated with `!`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectGlob {
    /// The glob with every `{…}` group expanded: a key matches when any alternative does.
    alternatives: Vec<Vec<Tok>>,
}

impl ObjectGlob {
    /// Compiles `glob`; a malformed one is an [`MsqError::Validation`] error.
    pub fn new(glob: &str) -> Result<Self> {
        let bad = |why: &str| MsqError::Validation(format!("Invalid objectGlob [{glob}]: {why}"));
        let chars: Vec<char> = glob.chars().collect();
        // Each alternative under construction; `{…}` multiplies them.
        let mut alternatives: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut group: Option<Vec<Vec<Tok>>> = None;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let tok = match c {
                '\\' => {
                    i += 1;
                    Tok::Lit(*chars.get(i).ok_or_else(|| bad("ends with an escape"))?)
                }
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 1;
                    Tok::DoubleStar
                }
                '*' => Tok::Star,
                '?' => Tok::One,
                '[' => {
                    let (tok, next) = parse_class(&chars, i).map_err(bad)?;
                    i = next - 1;
                    tok
                }
                '{' => {
                    if group.is_some() {
                        return Err(bad("nested groups are not supported"));
                    }
                    group = Some(vec![Vec::new()]);
                    i += 1;
                    continue;
                }
                ',' if group.is_some() => {
                    group.as_mut().expect("in a group").push(Vec::new());
                    i += 1;
                    continue;
                }
                '}' if group.is_some() => {
                    let options = group.take().expect("in a group");
                    if alternatives.len() * options.len() > MAX_ALTERNATIVES {
                        return Err(bad("too many alternatives"));
                    }
                    alternatives = alternatives
                        .iter()
                        .flat_map(|prefix| {
                            options.iter().map(move |o| {
                                let mut v = prefix.clone();
                                v.extend(o.iter().cloned());
                                v
                            })
                        })
                        .collect();
                    i += 1;
                    continue;
                }
                other => Tok::Lit(other),
            };
            match group.as_mut() {
                Some(g) => g.last_mut().expect("a group has an option").push(tok),
                None => alternatives.iter_mut().for_each(|a| a.push(tok.clone())),
            }
            i += 1;
        }
        if group.is_some() {
            return Err(bad("missing '}'"));
        }
        Ok(ObjectGlob { alternatives })
    }

    /// Whether `key` matches the whole glob.
    pub fn matches(&self, key: &str) -> bool {
        let chars: Vec<char> = key.chars().collect();
        self.alternatives.iter().any(|toks| matches_tokens(toks, &chars))
    }
}

/// Parses `[...]` starting at `chars[start] == '['`; returns the token and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> std::result::Result<(Tok, usize), &'static str> {
    let mut i = start + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or("missing ']'")?;
        if c == ']' && !first {
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i).ok_or("missing ']'")?
        } else {
            c
        };
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = chars[i + 2];
            if hi < lo {
                return Err("invalid range");
            }
            ranges.push((lo, hi));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
}

/// Glob matching without groups, by dynamic programming over (token, position).
fn matches_tokens(toks: &[Tok], s: &[char]) -> bool {
    // can[j] after processing tokens[..t]: whether s[..j] is matched by those tokens.
    let mut can = vec![false; s.len() + 1];
    can[0] = true;
    for tok in toks {
        let mut next = vec![false; s.len() + 1];
        match tok {
            Tok::Star | Tok::DoubleStar => {
                // Empty, or one more character after a match of the star; `*` stops at '/'.
                let crosses = matches!(tok, Tok::DoubleStar);
                for j in 0..=s.len() {
                    next[j] = can[j] || (j > 0 && next[j - 1] && (crosses || s[j - 1] != '/'));
                }
            }
            _ => {
                for j in 0..s.len() {
                    if can[j] && single_matches(tok, s[j]) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        can = next;
    }
    can[s.len()]
}

fn single_matches(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => c != '/',
        Tok::Class { negated, ranges } => c != '/' && (ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated),
        Tok::Star | Tok::DoubleStar => unreachable!("handled by the caller"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, key: &str) -> bool {
        ObjectGlob::new(glob).unwrap().matches(key)
    }

    #[test]
    fn stars_and_components() {
        // Druid's documented example: `*.json` does not cross '/', `**.json` does.
        assert!(!m("*.json", "bar/file.json"));
        assert!(m("**.json", "bar/file.json"));
        assert!(m("*.json", "file.json"));
        assert!(m("bar/*.json", "bar/file.json"));
        assert!(!m("bar/*.json", "bar/x/file.json"));
        assert!(m("bar/**/*.json", "bar/x/y/file.json"));
        assert!(!m("bar/**/*.json", "bar/file.json"));
        assert!(m("**", "a/b/c"));
        assert!(m("*", ""));
        assert!(!m("*", "a/b"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(!m("*.json", "file.json.gz"));
    }

    #[test]
    fn single_characters_classes_groups_escapes() {
        assert!(m("file?.csv", "file1.csv"));
        assert!(!m("file?.csv", "file12.csv"));
        assert!(!m("a?b", "a/b"));
        assert!(m("part-[0-9].csv", "part-7.csv"));
        assert!(!m("part-[0-9].csv", "part-x.csv"));
        assert!(m("part-[!0-9].csv", "part-x.csv"));
        assert!(m("[]x]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("**.{json,csv}", "d/a.csv"));
        assert!(m("{x,y}/{1,2}.gz", "y/2.gz"));
        assert!(!m("{x,y}/{1,2}.gz", "z/2.gz"));
        assert!(m("a{,b}c", "ac"));
        assert!(m(r"\*.txt", "*.txt"));
        assert!(!m(r"\*.txt", "a.txt"));
        assert!(m("über/*.json", "über/ß.json"));
    }

    #[test]
    fn malformed_globs_are_validation_errors() {
        for bad in ["[abc", "{a,b", "a\\", "{a,{b}}", "[z-a]"] {
            let err = ObjectGlob::new(bad).unwrap_err();
            assert!(matches!(err, MsqError::Validation(_)), "{bad}: {err:?}");
            assert!(
                err.to_string().contains(&format!("Invalid objectGlob [{bad}]")),
                "{err}"
            );
        }
    }
}
