//! The code's shape, checked like its behaviour: in every crate of the workspace, no non-test
//! source file over 800 lines, no function over 100 lines, and no two modules importing
//! each other (directly or round a longer loop). These are the limits the crates were split
//! to meet; a change that breaks one should split its file or function instead.
//!
//! Imports are read from the source text: every `crate::a::b`, `super::a` and `self::a`
//! path outside comments, `use` groups (`super::{a, b}`) and a `mod.rs`'s `use child::...`,
//! each resolved to the deepest module that exists as a file. Test modules are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "engine",
    "rows",
    "metadata",
    "sql",
    "worker",
    "console",
    "controller",
    "benches",
    "src",
];
const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 100;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Source directory of a workspace member (`src` is the binary's own).
fn src_dir(krate: &str) -> PathBuf {
    if krate == "src" {
        root().join("src")
    } else {
        root().join(krate).join("src")
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// A file of tests (`tests.rs`, `tests_*.rs`, `store_tests.rs`, or under a `tests` folder).
fn is_test_file(p: &Path) -> bool {
    p.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "tests" || s.starts_with("tests.") || s.starts_with("tests_") || s.ends_with("_tests.rs")
    })
}

/// The text before the first inline `#[cfg(test)] mod name { ... }`, i.e. the file without
/// its inline tests (which sit at the end of a file).
fn without_inline_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]\nmod ").map(|i| from + i) {
        let line_end = text[i + 13..].find('\n').map_or(text.len(), |e| i + 13 + e);
        if text[i..line_end].trim_end().ends_with('{') {
            return &text[..i];
        }
        from = line_end;
    }
    text
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(name, first line, lines)` of every function whose body closes at its own indentation.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let mut rest = trimmed;
        for prefix in ["pub(crate) ", "pub(super) ", "pub ", "const ", "async ", "unsafe "] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        let Some(sig) = rest.strip_prefix("fn ") else { continue };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = sig.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name, i + 1, end + 2));
        }
    }
    out
}

#[test]
fn no_file_over_800_lines_and_no_function_over_100() {
    let mut offenders = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&src_dir(krate), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            if is_test_file(&f) {
                continue;
            }
            let lines = text.lines().count();
            if lines > MAX_FILE_LINES {
                offenders.push(format!("{rel}: {lines} lines"));
            }
            for (name, line, n) in functions(without_inline_tests(&text)) {
                if n > MAX_FN_LINES {
                    offenders.push(format!("{rel}:{line}: fn {name} is {n} lines"));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "over the limits:\n{}", offenders.join("\n"));
}

type Module = Vec<String>;

/// Every module of a crate (path from the crate root) with its file.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let mut path: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(path.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                path.pop();
            }
            (path, f)
        })
        .collect()
}

/// The modules `m` (in file `f`) imports.
fn imports(m: &Module, f: &Path, mods: &BTreeMap<Module, PathBuf>) -> BTreeSet<Module> {
    let text = strip_comments(without_inline_tests(&std::fs::read_to_string(f).unwrap()));
    // The modules `self` and `super` name.
    let own: Module = m.clone();
    let parent: Module = m[..m.len().saturating_sub(1)].to_vec();
    let deepest = |base: Module, rest: &[&str]| -> Module {
        let mut cur = base;
        for r in rest {
            let mut next = cur.clone();
            next.push(r.to_string());
            if !mods.contains_key(&next) {
                break;
            }
            cur = next;
        }
        cur
    };
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let starts_word =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| text[i..].starts_with(h));
        let Some(head) = head.filter(|_| starts_word) else {
            i += 1;
            continue;
        };
        let path_end = text[i..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(text.len(), |e| i + e);
        let parts: Vec<&str> = text[i..path_end].split("::").filter(|p| !p.is_empty()).collect();
        let mut base = match head {
            "crate::" => Vec::new(),
            "self::" => own.clone(),
            _ => parent.clone(),
        };
        let mut rest = &parts[1..];
        while rest.first() == Some(&"super") {
            base.pop();
            rest = &rest[1..];
        }
        let mut targets = vec![deepest(base.clone(), rest)];
        // `super::{a, b}`: each name in the group.
        if text[path_end..].starts_with('{') {
            let group_end = text[path_end..].find('}').map_or(text.len(), |e| path_end + e);
            let group_base = deepest(base.clone(), rest);
            for name in text[path_end + 1..group_end].split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !name.is_empty() {
                    targets.push(deepest(group_base.clone(), &[name]));
                }
            }
        }
        for t in targets {
            if &t != m && mods.contains_key(&t) {
                out.insert(t);
            }
        }
        i = path_end.max(i + 1);
    }
    // `use child::...`: a path relative to this module (2018 paths).
    for line in text.lines() {
        let l = line.trim_start();
        let l = l
            .strip_prefix("pub ")
            .or_else(|| l.strip_prefix("pub(crate) "))
            .unwrap_or(l);
        let Some(rest) = l.strip_prefix("use ") else { continue };
        let first: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let mut t = own.clone();
        t.push(first);
        if &t != m && mods.contains_key(&t) {
            out.insert(t);
        }
    }
    out
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn every_workspace_member_is_checked() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace members");
    for m in members.split('"').skip(1).step_by(2) {
        assert!(CRATES.contains(&m), "workspace member {m} is not in CRATES");
    }
}

#[test]
fn no_console_file_over_800_lines() {
    let mut stack = vec![root().join("console/web")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                seen += 1;
                let n = text.lines().count();
                assert!(n <= MAX_FILE_LINES, "{} has {n} lines", p.display());
            }
        }
    }
    assert!(seen > 0, "no console files found");
}

#[test]
fn no_module_import_cycles() {
    let mut found = Vec::new();
    for krate in CRATES {
        let mods = modules(&src_dir(krate));
        let graph: BTreeMap<Module, BTreeSet<Module>> = mods
            .iter()
            .filter(|(_, f)| !is_test_file(f))
            .map(|(m, f)| (m.clone(), imports(m, f, &mods)))
            .collect();
        for comp in cycles(&graph) {
            let name = |m: &Module| {
                if m.is_empty() {
                    "crate".to_string()
                } else {
                    m.join("::")
                }
            };
            let mut names: Vec<String> = comp.iter().map(name).collect();
            names.sort();
            found.push(format!("{krate}: {}", names.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "modules importing each other:\n{}", found.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    let text = "fn a() {\n    let x = 1;\n}\n\npub(crate) fn b(\n    y: u8,\n) -> u8 {\n    y\n}\n";
    assert_eq!(functions(text), vec![("a".into(), 1, 3), ("b".into(), 5, 5)]);
    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let m = |s: &str| vec![s.to_string()];
    g.insert(m("a"), [m("b")].into());
    g.insert(m("b"), [m("c")].into());
    g.insert(m("c"), [m("a")].into());
    g.insert(m("d"), [m("a")].into());
    let c = cycles(&g);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].len(), 3);
}
