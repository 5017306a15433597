//! Ids and names that become file names, object-store paths or SQL: Druid's id rules
//! (`IdUtils.validateId`), msq-rs's datasource-name rules, and a path join that only accepts
//! one validated component.
//!
//! Druid's rules, with its messages: an id must not be empty, must not start with `.`, must
//! not contain `/`, must not contain whitespace other than the plain space (Java's `\s`:
//! tab, newline, vertical tab, form feed, carriage return), and must not contain control
//! characters, surrogates or private-use characters (Druid checks UTF-16 code units, so
//! characters outside the Basic Multilingual Plane, such as emoji, are rejected too).
//!
//! msq-rs is stricter where Druid's ranges leave gaps that matter for file names: Druid's
//! control-character ranges are exclusive at both ends (`c > 0 && c < 31`, `c > 127 && c <
//! 159`), so it lets NUL, U+001F, U+007F and U+009F through; msq-rs rejects them with the same
//! message. Ids are also limited to [`MAX_ID_BYTES`] bytes of UTF-8, since a task id, a worker
//! id (`<taskId>-worker<N>_<attempt>`) and a datasource name each become one file-name
//! component (at most 255 bytes on common file systems).

use crate::{MsqError, Result};
use std::path::{Component, Path, PathBuf};

/// Longest id or name, in bytes of UTF-8 (leaves room for the `query-` prefix of task ids and
/// the `-worker<N>_<attempt>` suffix of worker ids within a 255-byte file name).
pub const MAX_ID_BYTES: usize = 200;

/// Datasource names that are SQL schema names (case-insensitively): a table by that name would
/// be ambiguous with the schema (`sys.segments`, `INFORMATION_SCHEMA.TABLES`).
pub const RESERVED_SCHEMA_NAMES: [&str; 6] = ["druid", "sys", "INFORMATION_SCHEMA", "lookup", "view", "ext"];

/// Prefix of names msq-rs uses itself (`__time`, `__extern_<n>` tables, the `__query_select`
/// datasource of SELECT tasks); datasources may not start with it.
pub const RESERVED_PREFIX: &str = "__";

/// How much of an over-long value an error message shows.
const SHOWN_CHARS: usize = 64;

fn invalid(field: &str, detail: String) -> MsqError {
    MsqError::Validation(format!("Invalid value for field [{field}]: {detail}"))
}

/// Whether a UTF-16 code unit is one Druid refuses in ids (plus NUL, U+001F, U+007F and
/// U+009F, which its exclusive bounds miss).
fn illegal_code_unit(c: u16) -> bool {
    c < 32 || (127..=159).contains(&c) || (c > 0xD800 && c < 0xF8FF) || (c > 0xFFF0 && c < 0xFFFF)
}

/// Java's `\s` without the space: the whitespace Druid's `[^\S ]` rejects.
fn illegal_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// The worker task id Druid uses, `<controllerTaskId>-worker<N>_<attempt>`: shared by the
/// controller (which names its workers) and the launchers and workers that use the name.
pub fn worker_task_id(task_id: &str, worker: usize, attempt: u32) -> String {
    format!("{task_id}-worker{worker}_{attempt}")
}

/// Druid's `IdUtils.validateId(field, value)`, with its messages, plus the length limit.
pub fn validate_id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(field, "must not be null".into()));
    }
    if value.starts_with('.') {
        return Err(invalid(field, format!("Value [{value}] cannot start with '.'.")));
    }
    if value.contains('/') {
        return Err(invalid(field, format!("Value [{value}] cannot contain '/'.")));
    }
    if value.chars().any(illegal_whitespace) {
        return Err(invalid(
            field,
            format!("Value [{value}] contains illegal whitespace characters.  Only space is allowed."),
        ));
    }
    if let Some((i, c)) = value.encode_utf16().enumerate().find(|(_, c)| illegal_code_unit(*c)) {
        return Err(invalid(
            field,
            format!("Value [{value}] contains illegal UTF8 character [#{c}] at position [{i}]"),
        ));
    }
    if value.len() > MAX_ID_BYTES {
        let shown: String = value.chars().take(SHOWN_CHARS).collect();
        return Err(invalid(
            field,
            format!(
                "Value [{shown}...] is [{}] bytes long; the limit is [{MAX_ID_BYTES}] bytes.",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// A datasource name: [`validate_id`] (`field` is Druid's name for it where it comes from:
/// `table` for an INSERT/REPLACE target, `dataSource` in a route), then msq-rs's reserved
/// names: SQL schema names and names starting with `__`.
pub fn validate_datasource(field: &str, name: &str) -> Result<()> {
    validate_id(field, name)?;
    if name.starts_with(RESERVED_PREFIX) {
        return Err(invalid(
            field,
            format!("Value [{name}] cannot start with '{RESERVED_PREFIX}' (reserved for system names)."),
        ));
    }
    if RESERVED_SCHEMA_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return Err(invalid(
            field,
            format!("Value [{name}] is reserved (the name of a SQL schema)."),
        ));
    }
    Ok(())
}

/// The `sqlQueryId` context value: an id that also names the task (`query-<sqlQueryId>`).
pub fn validate_sql_query_id(value: &str) -> Result<()> {
    validate_id("sqlQueryId", value)
}

/// A task id as it arrives in a URL; invalid ones name no task (callers answer 404).
pub fn is_valid_task_id(id: &str) -> bool {
    validate_id("taskId", id).is_ok()
}

/// `base/name`, where `name` must be exactly one ordinary path component (a valid id: no
/// `/`, no leading `.`, no control characters, not too long). The result is checked to be a
/// direct child of `base`; anything else is an error, never a path outside `base`.
pub fn safe_join(base: &Path, name: &str) -> Result<PathBuf> {
    validate_id("path component", name)?;
    if name.contains('\\') && cfg!(windows) {
        return Err(MsqError::Validation(format!(
            "Invalid value for field [path component]: Value [{name}] cannot contain '\\'."
        )));
    }
    let joined = base.join(name);
    let mut parts = Path::new(name).components();
    let single = matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None));
    if !single || joined.parent() != Some(base) {
        return Err(MsqError::Unknown(format!(
            "refusing path [{}]: [{name}] is not one component under [{}]",
            joined.display(),
            base.display()
        )));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<()>) -> String {
        match r {
            Err(MsqError::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn druid_messages() {
        assert_eq!(
            message(validate_sql_query_id("")),
            "Invalid value for field [sqlQueryId]: must not be null"
        );
        assert_eq!(
            message(validate_sql_query_id("x/../../../victim_q")),
            "Invalid value for field [sqlQueryId]: Value [x/../../../victim_q] cannot contain '/'."
        );
        assert_eq!(
            message(validate_sql_query_id("../x")),
            "Invalid value for field [sqlQueryId]: Value [../x] cannot start with '.'."
        );
        assert_eq!(
            message(validate_sql_query_id(".hidden")),
            "Invalid value for field [sqlQueryId]: Value [.hidden] cannot start with '.'."
        );
        assert_eq!(
            message(validate_sql_query_id("a\tb")),
            "Invalid value for field [sqlQueryId]: Value [a\tb] contains illegal whitespace characters.  Only space is allowed."
        );
        assert_eq!(
            message(validate_sql_query_id("a\u{1}b")),
            "Invalid value for field [sqlQueryId]: Value [a\u{1}b] contains illegal UTF8 character [#1] at position [1]"
        );
    }

    #[test]
    fn gaps_in_druids_ranges_are_closed() {
        for c in ['\0', '\u{1F}', '\u{7F}', '\u{9F}'] {
            let v = format!("ab{c}");
            assert_eq!(
                message(validate_id("table", &v)),
                format!(
                    "Invalid value for field [table]: Value [{v}] contains illegal UTF8 character [#{}] at position [2]",
                    c as u32
                )
            );
        }
    }

    #[test]
    fn utf16_positions_and_surrogates_as_druid_sees_them() {
        // U+1F600 is the surrogate pair D83D DE00 in Java: the high one is refused.
        assert_eq!(
            message(validate_id("table", "é😀")),
            "Invalid value for field [table]: Value [é😀] contains illegal UTF8 character [#55357] at position [1]"
        );
        // Private use area.
        assert!(validate_id("table", "a\u{E000}").is_err());
        assert!(validate_id("table", "a\u{FFF5}").is_err());
    }

    #[test]
    fn unusual_but_valid() {
        for v in [
            "wiki-2024_v1",
            "wikipédia",
            "日本語",
            "a b",
            "con",
            "my-ds.v2",
            "x..y",
            "a\\b",
        ] {
            validate_datasource("table", v).unwrap();
            validate_sql_query_id(v).unwrap();
        }
        validate_id("sqlQueryId", &"x".repeat(MAX_ID_BYTES)).unwrap();
    }

    #[test]
    fn length_limit() {
        let long = "x".repeat(5000);
        assert_eq!(
            message(validate_sql_query_id(&long)),
            format!(
                "Invalid value for field [sqlQueryId]: Value [{}...] is [5000] bytes long; the limit is [200] bytes.",
                "x".repeat(64)
            )
        );
        // Bytes, not characters: 67 three-byte characters are 201 bytes.
        assert!(validate_id("table", &"語".repeat(67)).is_err());
    }

    #[test]
    fn datasource_names() {
        assert_eq!(
            message(validate_datasource("table", "..")),
            "Invalid value for field [table]: Value [..] cannot start with '.'."
        );
        assert_eq!(
            message(validate_datasource("table", "a/b")),
            "Invalid value for field [table]: Value [a/b] cannot contain '/'."
        );
        assert_eq!(
            message(validate_datasource("table", "__time")),
            "Invalid value for field [table]: Value [__time] cannot start with '__' (reserved for system names)."
        );
        assert_eq!(
            message(validate_datasource("dataSource", "SYS")),
            "Invalid value for field [dataSource]: Value [SYS] is reserved (the name of a SQL schema)."
        );
        assert!(validate_datasource("table", "information_schema").is_err());
        validate_datasource("table", "_time").unwrap();
        validate_datasource("table", "system").unwrap();
    }

    #[test]
    fn safe_join_takes_one_component() {
        let base = Path::new("/data/tmp");
        assert_eq!(safe_join(base, "query-abc").unwrap(), Path::new("/data/tmp/query-abc"));
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\0b", ".hidden"] {
            assert!(safe_join(base, bad).is_err(), "{bad:?}");
        }
        assert!(safe_join(base, &"x".repeat(300)).is_err());
    }

    #[test]
    fn task_ids_in_urls() {
        assert!(is_valid_task_id("query-abc"));
        assert!(!is_valid_task_id("query-x/../../y"));
        assert!(!is_valid_task_id(".."));
    }
}
