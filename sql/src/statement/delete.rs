//! `DELETE FROM <datasource> [WHERE <condition>]` (beyond Druid, whose way is a `REPLACE ...
//! OVERWRITE WHERE ... SELECT ... WHERE NOT <condition>`): planned as exactly that `REPLACE`,
//! of the time chunks the condition can touch, keeping the datasource's segment granularity
//! and its range clustering. Rows where the condition is NULL stay (`(cond) IS NOT TRUE`).

use super::overwrite_where::parse_overwrite_where_in_zone;
use super::tokens::{next_nonws, text_of, tokenize, trim, unexpected, Tok};
use crate::functions::time::Zone;
use crate::guard::MAX_PARSER_RECURSION;
use msq_engine::context::QueryContext;
use msq_engine::granularity::{Granularity, Interval};
use msq_engine::metadata::segment::SegmentRecord;
use msq_engine::metadata::timeline::visible_segments;
use msq_engine::{MsqError, Result};
use sqlparser::ast::{BinaryOperator, Expr};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// A parsed `DELETE FROM` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteStatement {
    /// The datasource rows are deleted from.
    pub table: String,
    /// The `WHERE` condition's SQL text (none: every row).
    pub condition: Option<String>,
}

/// Parses `DELETE FROM <datasource> [WHERE <condition>]`; `None` for any other statement.
pub fn parse_delete(sql: &str) -> Result<Option<DeleteStatement>> {
    let toks = tokenize(sql)?;
    let mut end = toks.len();
    while end > 0 && (toks[end - 1].is_ws() || matches!(toks[end - 1].token, Token::SemiColon)) {
        end -= 1;
    }
    let toks = &toks[..end];
    if let Some(d) = next_nonws(toks, 0).filter(|&i| toks[i].is_kw("DROP")) {
        if next_nonws(toks, d + 1).is_some_and(|t| toks[t].is_kw("TABLE")) {
            return Err(MsqError::QueryNotSupported(
                "DROP TABLE is not supported: drop a datasource the Druid way, DELETE /druid/coordinator/v1/datasources/{dataSource} (marks its segments unused), then a kill task ({\"type\": \"kill\", \"dataSource\": ..., \"interval\": ...}) removes their files".into(),
            ));
        }
    }
    let Some(first) = next_nonws(toks, 0).filter(|&i| toks[i].is_kw("DELETE")) else {
        return Ok(None);
    };
    let from = next_nonws(toks, first + 1).filter(|&i| toks[i].is_kw("FROM"));
    let Some(from) = from else {
        return Err(unexpected(next_nonws(toks, first + 1).map(|i| &toks[i]), "\"FROM\""));
    };
    let (table, next) = table_name(toks, from + 1)?;
    let condition = match next_nonws(toks, next) {
        None => None,
        Some(w) if toks[w].is_kw("WHERE") => {
            let cond = trim(&toks[w + 1..]);
            if cond.is_empty() {
                return Err(unexpected(None, "<condition>"));
            }
            Some(text_of(cond))
        }
        Some(other) => return Err(unexpected(Some(&toks[other]), "\"WHERE\"")),
    };
    Ok(Some(DeleteStatement { table, condition }))
}

/// The datasource after `FROM` (optionally `druid.`-qualified); returns it and the next index.
fn table_name(toks: &[Tok], from: usize) -> Result<(String, usize)> {
    let at = next_nonws(toks, from);
    let Some(i) = at.filter(|&i| toks[i].word().is_some() && !toks[i].is_kw("WHERE")) else {
        return Err(unexpected(at.map(|i| &toks[i]), "<identifier>"));
    };
    let mut name = toks[i].word().unwrap_or_default().to_string();
    let mut next = i + 1;
    if let Some(dot) = next_nonws(toks, next).filter(|&d| matches!(toks[d].token, Token::Period)) {
        let part = next_nonws(toks, dot + 1).filter(|&p| toks[p].word().is_some());
        match part {
            Some(p) if name.eq_ignore_ascii_case("druid") => {
                name = toks[p].word().unwrap_or_default().to_string();
                next = p + 1;
            }
            _ => {
                return Err(MsqError::Validation(format!(
                    "Cannot DELETE from [{}] because it is not a Druid datasource.",
                    text_of(trim(&toks[i..next_nonws(toks, dot + 1).map_or(toks.len(), |p| p + 1)]))
                )))
            }
        }
    }
    msq_engine::ids::validate_datasource("table", &name)?;
    Ok((name, next))
}

/// The `REPLACE` that deletes `d`'s rows from a datasource whose used segments are
/// `segments`: it overwrites the time chunks the condition's `__time` conjuncts allow (all
/// chunks without any) with their rows where the condition is not true.
pub fn delete_as_replace(d: &DeleteStatement, segments: &[SegmentRecord], ctx: &QueryContext) -> Result<String> {
    let visible: Vec<SegmentRecord> = visible_segments(segments, Interval::eternity())
        .into_iter()
        .map(|v| v.segment)
        .filter(|s| !s.is_tombstone)
        .collect();
    if visible.is_empty() {
        return Err(MsqError::Validation(format!("Object '{}' not found", d.table)));
    }
    // `sqlTimeZone` (checked again, with the same message, when the REPLACE is planned).
    let zone = match &ctx.sql.time_zone {
        None => Zone::utc(),
        Some(z) => Zone::parse(z).ok_or_else(|| {
            MsqError::Validation(format!("Invalid value [{z}] for query context parameter [sqlTimeZone]"))
        })?,
    };
    let allowed = match &d.condition {
        Some(c) => time_restriction(c, &zone)?,
        None => None,
    };
    let mut chunks: Vec<Interval> = visible.iter().map(|s| s.id.interval).collect();
    chunks.sort_by_key(|i| (i.start, i.end));
    chunks.dedup();
    if let Some(allowed) = &allowed {
        chunks.retain(|c| allowed.iter().any(|a| a.overlaps(c)));
    }
    if chunks.is_empty() {
        return Err(MsqError::Validation(format!(
            "DELETE FROM [{}]: the condition's __time range holds no time chunk of the datasource, so there is nothing to delete",
            d.table
        )));
    }
    let granularity = common_granularity(&chunks)?;
    let clustering = range_clustering(&visible, &chunks);
    let condition = d.condition.as_deref().unwrap_or("TRUE");
    let table = quote(&d.table);
    let (overwrite, keep) = if granularity == Granularity::All {
        ("ALL".to_string(), format!("({condition}) IS NOT TRUE"))
    } else {
        let ranges = merge(&chunks);
        let over: Vec<String> = ranges
            .iter()
            .map(|r| format!("(__time >= {} AND __time < {})", r.start, r.end))
            .collect();
        let within: Vec<String> = ranges
            .iter()
            .map(|r| {
                format!(
                    "(__time >= MILLIS_TO_TIMESTAMP({}) AND __time < MILLIS_TO_TIMESTAMP({}))",
                    r.start, r.end
                )
            })
            .collect();
        (
            format!("WHERE {}", over.join(" OR ")),
            format!("({}) AND (({condition}) IS NOT TRUE)", within.join(" OR ")),
        )
    };
    let mut sql = format!(
        "REPLACE INTO {table} OVERWRITE {overwrite}\nSELECT * FROM {table}\nWHERE {keep}\nPARTITIONED BY {}",
        granularity_sql(granularity)
    );
    if !clustering.is_empty() {
        let cols: Vec<String> = clustering.iter().map(|c| quote(c)).collect();
        sql.push_str(&format!("\nCLUSTERED BY {}", cols.join(", ")));
    }
    Ok(sql)
}

/// The intervals the condition's top-level `AND`ed `__time` comparisons allow (intersected);
/// `None` when no conjunct is a pure `__time` condition.
fn time_restriction(condition: &str, zone: &Zone) -> Result<Option<Vec<Interval>>> {
    let dialect = GenericDialect {};
    let expr = Parser::new(&dialect)
        .with_recursion_limit(MAX_PARSER_RECURSION)
        .try_with_sql(condition)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| MsqError::SqlParse(format!("Invalid DELETE condition: {e}")))?;
    let mut conjuncts = Vec::new();
    let mut todo = vec![&expr];
    while let Some(e) = todo.pop() {
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                todo.push(left);
                todo.push(right);
            }
            Expr::Nested(inner)
                if matches!(
                    inner.as_ref(),
                    Expr::BinaryOp {
                        op: BinaryOperator::And,
                        ..
                    }
                ) =>
            {
                todo.push(inner)
            }
            other => conjuncts.push(other),
        }
    }
    let mut allowed: Option<Vec<Interval>> = None;
    for c in conjuncts {
        // A conjunct that is not a pure __time condition restricts nothing.
        let Ok(intervals) = parse_overwrite_where_in_zone(&c.to_string(), zone) else {
            continue;
        };
        allowed = Some(match allowed {
            None => intervals,
            Some(prev) => prev
                .iter()
                .flat_map(|a| {
                    intervals
                        .iter()
                        .filter(|b| a.overlaps(b))
                        .map(|b| Interval::new(a.start.max(b.start), a.end.min(b.end)))
                })
                .collect(),
        });
    }
    Ok(allowed)
}

/// One granularity all chunks line up with: theirs when they share one, else the finest of
/// theirs when every chunk boundary is aligned with it.
fn common_granularity(chunks: &[Interval]) -> Result<Granularity> {
    let mut found: Vec<(i64, Granularity)> = Vec::new();
    for c in chunks {
        let g = Granularity::of_chunk(c).ok_or_else(|| {
            MsqError::QueryNotSupported(format!(
                "DELETE cannot rewrite time chunk [{}]: it is not one bucket of a Druid granularity",
                c.to_iso()
            ))
        })?;
        found.push((c.end.saturating_sub(c.start), g));
    }
    found.sort_by_key(|(len, _)| *len);
    let finest = found[0].1;
    if finest == Granularity::All && chunks.len() > 1 {
        return Err(MsqError::QueryNotSupported(
            "DELETE cannot rewrite a datasource mixing ALL-granularity and time-bounded chunks".into(),
        ));
    }
    let aligned = chunks
        .iter()
        .all(|c| finest == Granularity::All || (finest.is_aligned(c.start) && finest.is_aligned(c.end)));
    if !aligned {
        return Err(MsqError::QueryNotSupported(format!(
            "DELETE cannot rewrite time chunks of different granularities that do not line up with {}",
            finest.name()
        )));
    }
    Ok(finest)
}

/// `PARTITIONED BY` text of a granularity.
fn granularity_sql(g: Granularity) -> String {
    match g {
        Granularity::All => "ALL".to_string(),
        other => format!("'{}'", other.period().unwrap_or("P1D")),
    }
}

/// The range-clustering columns of the newest segment in the touched chunks (none when those
/// segments are not range-partitioned).
fn range_clustering(visible: &[SegmentRecord], chunks: &[Interval]) -> Vec<String> {
    visible
        .iter()
        .filter(|s| chunks.contains(&s.id.interval))
        .max_by(|a, b| a.id.version.cmp(&b.id.version))
        .filter(|s| s.shard_spec["type"] == "range")
        .and_then(|s| s.shard_spec["dimensions"].as_array().cloned())
        .map(|dims| dims.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Adjacent or overlapping intervals merged (input sorted by start).
fn merge(chunks: &[Interval]) -> Vec<Interval> {
    let mut out: Vec<Interval> = Vec::new();
    for c in chunks {
        match out.last_mut() {
            Some(last) if c.start <= last.end => last.end = last.end.max(c.end),
            _ => out.push(*c),
        }
    }
    out
}

/// A double-quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_delete_statements() {
        let d = parse_delete("DELETE FROM wiki WHERE channel = '#en.wikipedia';")
            .unwrap()
            .unwrap();
        assert_eq!(d.table, "wiki");
        assert_eq!(d.condition.as_deref(), Some("channel = '#en.wikipedia'"));
        let all = parse_delete("delete from druid.\"wiki\"").unwrap().unwrap();
        assert_eq!((all.table.as_str(), all.condition), ("wiki", None));
        assert!(parse_delete("SELECT 1").unwrap().is_none());
        assert_eq!(parse_delete("DELETE wiki").unwrap_err().error_code(), "InvalidInput");
        assert!(parse_delete("DELETE FROM sys.segments").is_err());
        assert!(parse_delete("DELETE FROM wiki LIMIT 3").is_err());
    }

    #[test]
    fn chunk_granularities() {
        let day = Granularity::Day.bucket(1442016000000);
        assert_eq!(Granularity::of_chunk(&day), Some(Granularity::Day));
        let hours = [
            Granularity::Hour.bucket(1442016000000),
            Granularity::Hour.bucket(1442019600000),
        ];
        assert_eq!(common_granularity(&hours).unwrap(), Granularity::Hour);
        assert_eq!(common_granularity(&[day, hours[0]]).unwrap(), Granularity::Hour);
        assert_eq!(merge(&hours), vec![Interval::new(1442016000000, 1442023200000)]);
    }

    #[test]
    fn time_conjuncts_restrict_chunks() {
        let z = Zone::utc();
        let r = time_restriction(
            "channel = 'x' AND __time >= TIMESTAMP '2015-09-12 01:00:00' AND __time < TIMESTAMP '2015-09-12 03:00:00'",
            &z,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r, vec![Interval::new(1442019600000, 1442026800000)]);
        assert!(time_restriction("channel = 'x' OR __time < 5", &z).unwrap().is_none());
    }
}
