use super::*;
use crate::functions::time::Zone;
use datafusion::sql::parser::DFParser;

fn rewrite_with(sql: &str, opts: &RewriteOptions) -> Result<String> {
    let mut s = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
    rewrite_statement(&mut s, opts)?;
    Ok(s.to_string())
}

fn rewrite(sql: &str) -> String {
    rewrite_with(sql, &RewriteOptions::default()).unwrap()
}

fn la() -> RewriteOptions {
    RewriteOptions {
        zone: Zone::parse("America/Los_Angeles").unwrap(),
        now_millis: 1442016000000,
        ..RewriteOptions::default()
    }
}

#[test]
fn latest_and_names() {
    assert_eq!(
        rewrite("SELECT channel, LATEST(page, 128), COUNT(*) AS n FROM t GROUP BY channel"),
        r#"SELECT channel, latest_by(page, "__time") AS "EXPR$1", COUNT(*) AS n FROM t GROUP BY channel"#
    );
    assert_eq!(
        rewrite("SELECT EARLIEST_BY(a, b, 10) FROM t"),
        r#"SELECT earliest_by(a, b) AS "EXPR$0" FROM t"#
    );
}

#[test]
fn time_zone_is_applied() {
    let o = la();
    assert_eq!(
        rewrite_with("SELECT TIME_FLOOR(__time, 'P1D') AS d FROM t", &o).unwrap(),
        "SELECT TIME_FLOOR(__time, 'P1D', NULL, 'America/Los_Angeles') AS d FROM t"
    );
    assert_eq!(
        rewrite_with("SELECT TIME_FORMAT(__time) AS d FROM t", &o).unwrap(),
        "SELECT TIME_FORMAT(__time, NULL, 'America/Los_Angeles') AS d FROM t"
    );
    // An explicit zone wins.
    assert_eq!(
        rewrite_with("SELECT TIME_FLOOR(__time, 'P1D', NULL, 'UTC') AS d FROM t", &o).unwrap(),
        "SELECT TIME_FLOOR(__time, 'P1D', NULL, 'UTC') AS d FROM t"
    );
    // 2015-09-12 00:00 in Los Angeles (PDT, -07:00) is 07:00 UTC.
    assert_eq!(
        rewrite_with("SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'", &o).unwrap(),
        "SELECT x FROM t WHERE __time >= MILLIS_TO_TIMESTAMP(1442041200000)"
    );
    assert_eq!(
        rewrite_with("SELECT EXTRACT(HOUR FROM __time) AS h FROM t", &o).unwrap(),
        "SELECT TIME_EXTRACT(__time, 'HOUR', 'America/Los_Angeles') AS h FROM t"
    );
    // UTC leaves literals alone, unless they do not fit nanoseconds.
    assert_eq!(
        rewrite("SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'"),
        "SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'"
    );
    assert_eq!(
        rewrite("SELECT TIMESTAMP '9999-12-31 23:59:59' AS __time"),
        "SELECT MILLIS_TO_TIMESTAMP(253402300799000) AS __time"
    );
    let e = rewrite_with("SELECT TIMESTAMP 'not a time' AS t", &o).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
    assert_eq!(
        e.to_string(),
        "Illegal TIMESTAMP literal 'not a time': not in format 'yyyy-MM-dd HH:mm:ss'"
    );
    let e = rewrite_with("SELECT DATE '2020-13-45' AS t", &RewriteOptions::default()).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
}

#[test]
fn druid_scalar_forms() {
    let o = RewriteOptions {
        now_millis: 5,
        ..RewriteOptions::default()
    };
    assert_eq!(
        rewrite_with("SELECT CURRENT_TIMESTAMP AS n", &o).unwrap(),
        "SELECT MILLIS_TO_TIMESTAMP(5) AS n"
    );
    assert_eq!(
        rewrite("SELECT TIMESTAMPADD(HOUR, 2, __time) AS a, TIMESTAMPDIFF(DAY, a, b) AS d FROM t"),
        "SELECT TIME_SHIFT(__time, 'PT1H', 2) AS a, timestampdiff('DAY', a, b) AS d FROM t"
    );
    assert_eq!(
        rewrite("SELECT DATE_TRUNC('month', __time) AS m FROM t"),
        "SELECT TIME_FLOOR(__time, 'P1M', NULL, 'UTC') AS m FROM t"
    );
    assert_eq!(
            rewrite("SELECT x FROM t WHERE TIME_IN_INTERVAL(__time, '2015-09-12/P1D')"),
            "SELECT x FROM t WHERE (__time >= MILLIS_TO_TIMESTAMP(1442016000000) AND __time < MILLIS_TO_TIMESTAMP(1442102400000))"
        );
    assert_eq!(
        rewrite("SELECT CONCAT(a, 'x') AS c, TEXTCAT(a, b) AS d, STRLEN(a) AS l FROM t"),
        "SELECT druid_concat(a, 'x') AS c, druid_concat(a, b) AS d, character_length(a) AS l FROM t"
    );
    assert_eq!(
        rewrite("SELECT REGEXP_EXTRACT(page, 'a(b+)', 1) AS r FROM t"),
        "SELECT array_element(regexp_match(page, '(a(b+))'), 2) AS r FROM t"
    );
    let e = rewrite_with("SELECT REGEXP_LIKE(page, '((') FROM t", &o).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
    assert!(
        e.to_string()
            .starts_with("Function [REGEXP_LIKE] has an invalid regular expression [((]"),
        "{e}"
    );
    rewrite_with("SELECT REGEXP_LIKE(page, '^a(b|c)$') FROM t", &o).unwrap();
    let e = rewrite_with("SELECT TIME_IN_INTERVAL(__time, x) FROM t", &o).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
    let e = rewrite_with("SELECT TIMESTAMPADD(FORTNIGHT, 1, __time) FROM t", &o).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
}

#[test]
fn unsupported_and_unfinalized() {
    for sql in [
        "SELECT a, COUNT(*) FROM t GROUP BY GROUPING SETS ((a), ())",
        "SELECT a, COUNT(*) FROM t GROUP BY ROLLUP (a)",
        "SELECT a, COUNT(*) FROM t GROUP BY CUBE (a)",
    ] {
        let e = rewrite_with(sql, &RewriteOptions::default()).unwrap_err();
        assert_eq!(e.error_code(), "QueryNotSupported", "{sql}");
    }
    let raw = RewriteOptions {
        finalize_aggregations: false,
        ..RewriteOptions::default()
    };
    let e = rewrite_with("SELECT a, APPROX_COUNT_DISTINCT(b) AS u FROM t GROUP BY a", &raw).unwrap_err();
    assert_eq!(e.error_code(), "QueryNotSupported");
    assert!(e.to_string().contains("Column [u]"), "{e}");
    let e = rewrite_with("SELECT a, COUNT(DISTINCT b) FROM t GROUP BY a", &raw).unwrap_err();
    assert!(e.to_string().contains("Column [EXPR$1]"), "{e}");
    rewrite_with("SELECT a, COUNT(*) AS c, SUM(b) AS s FROM t GROUP BY a", &raw).unwrap();
    let e = rewrite_with("SELECT a, COUNT(*) AS c FROM t GROUP BY 1, 2", &raw).unwrap_err();
    assert_eq!(e.error_code(), "InvalidInput");
    rewrite_with("SELECT a, RANK() OVER (ORDER BY a) FROM t GROUP BY 1", &raw).unwrap();
}

#[test]
fn select_list_names() {
    let s = DFParser::parse_sql("SELECT a, LOWER(b) AS lb, UPPER(c) FROM t")
        .unwrap()
        .pop_front()
        .unwrap();
    assert_eq!(
        output_expressions(&s),
        vec![
            ("A".to_string(), "a".to_string()),
            ("LOWER(B)".to_string(), "lb".to_string()),
            ("UPPER(C)".to_string(), "EXPR$2".to_string())
        ]
    );
    assert_eq!(canonical_expression("lower( b )").as_deref(), Some("LOWER(B)"));
}

#[test]
fn lateral_unnest() {
    assert_eq!(
        rewrite("SELECT d3 FROM nested_data, UNNEST(MV_TO_ARRAY(dim3)) AS example_table(d3)"),
        "SELECT d3 FROM (SELECT *, unnest(MV_TO_ARRAY(dim3)) AS d3 FROM nested_data) AS nested_data"
    );
    assert_eq!(
        rewrite("SELECT u.x, t.k FROM t AS t CROSS JOIN UNNEST(t.arr) AS u(x) WHERE u.x > 1"),
        "SELECT t.x, t.k FROM (SELECT *, unnest(t.arr) AS x FROM t AS t) AS t WHERE t.x > 1"
    );
    // A standalone UNNEST is left to the planner.
    assert_eq!(
        rewrite("SELECT * FROM UNNEST(ARRAY[1, 2, 3]) AS ud(d1)"),
        "SELECT * FROM UNNEST(ARRAY[1, 2, 3]) AS ud (d1)"
    );
}

#[test]
fn intervals() {
    let z = Zone::utc();
    assert_eq!(
        parse_interval("2016-06-27/2016-06-28", &z),
        Some((1466985600000, 1467072000000))
    );
    assert_eq!(
        parse_interval("P1D/2016-06-28", &z),
        Some((1466985600000, 1467072000000))
    );
    assert_eq!(parse_interval("2016-06-28/2016-06-27", &z), None);
    assert_eq!(parse_interval("nonsense", &z), None);
}
