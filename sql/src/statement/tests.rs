use super::*;
use crate::functions::time::Zone;
use msq_engine::granularity::parse_instant;
use msq_engine::granularity::{Granularity, Interval};
use msq_engine::signature::ColumnType;
use msq_engine::MsqError;
use serde_json::json;

fn ms(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn validation(sql: &str) -> String {
    match parse_statement(sql) {
        Err(MsqError::Validation(m)) => m,
        other => panic!("expected a validation error for {sql}, got {other:?}"),
    }
}

fn parse_error(sql: &str) -> String {
    match parse_statement(sql) {
        Err(MsqError::SqlParse(m)) => m,
        other => panic!("expected a parse error for {sql}, got {other:?}"),
    }
}

const DOCS_INSERT: &str = r#"INSERT INTO wikipedia
SELECT TIME_PARSE("timestamp") AS __time, *
FROM TABLE(EXTERN('{"type": "http", "uris": ["https://druid.apache.org/data/wikipedia.json.gz"]}', '{"type": "json"}', '[{"name": "added", "type": "long"}, {"name": "channel", "type": "string"}, {"name": "timestamp", "type": "string"}]'))
PARTITIONED BY DAY"#;

#[test]
fn docs_insert_example() {
    let s = parse_statement(DOCS_INSERT).unwrap();
    assert_eq!(s.kind, StatementKind::Insert);
    assert_eq!(s.target.as_deref(), Some("wikipedia"));
    assert_eq!(s.partitioned_by, Some(Granularity::Day));
    assert_eq!(s.overwrite, None);
    assert!(s.clustered_by.is_empty());
    assert!(!s.has_order_by);
    assert_eq!(
        s.query_sql,
        "SELECT TIME_PARSE(\"timestamp\") AS __time, *\nFROM \"__extern_0\""
    );
    assert_eq!(s.externs.len(), 1);
    let e = &s.externs[0];
    assert_eq!(e.table_name, "__extern_0");
    assert_eq!(
        e.input_source,
        json!({"type": "http", "uris": ["https://druid.apache.org/data/wikipedia.json.gz"]})
    );
    assert_eq!(e.input_format, json!({"type": "json"}));
    let names: Vec<_> = e
        .signature
        .0
        .iter()
        .map(|c| (c.name.as_str(), c.column_type.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("added", ColumnType::Long),
            ("channel", ColumnType::String),
            ("timestamp", ColumnType::String)
        ]
    );
}

#[test]
fn replace_overwrite_where_example() {
    let sql = r#"REPLACE INTO "wikipedia"
OVERWRITE WHERE "__time" >= TIMESTAMP '2015-09-12 01:00:00' AND "__time" < TIMESTAMP '2015-09-12 02:00:00'
SELECT __time, channel, added FROM "wikipedia_src" WHERE channel = '#en.wikipedia'
PARTITIONED BY HOUR
CLUSTERED BY channel"#;
    let s = parse_statement(sql).unwrap();
    assert_eq!(s.kind, StatementKind::Replace);
    assert_eq!(s.target.as_deref(), Some("wikipedia"));
    assert_eq!(
        s.overwrite,
        Some(Overwrite::Where(vec![Interval::new(
            ms("2015-09-12T01:00:00Z"),
            ms("2015-09-12T02:00:00Z")
        )]))
    );
    assert_eq!(s.partitioned_by, Some(Granularity::Hour));
    assert_eq!(s.clustered_by, vec![ClusterKey::Column("channel".into())]);
    assert_eq!(
        s.query_sql,
        "SELECT __time, channel, added FROM \"wikipedia_src\" WHERE channel = '#en.wikipedia'"
    );
    assert!(s.validate_overwrite_alignment().is_ok());
}

#[test]
fn replace_overwrite_all() {
    let s = parse_statement("REPLACE INTO dst OVERWRITE ALL SELECT * FROM src PARTITIONED BY ALL TIME;").unwrap();
    assert_eq!(s.kind, StatementKind::Replace);
    assert_eq!(s.overwrite, Some(Overwrite::All));
    assert_eq!(s.overwrite.as_ref().unwrap().intervals(), vec![Interval::eternity()]);
    assert_eq!(s.partitioned_by, Some(Granularity::All));
    assert_eq!(s.query_sql, "SELECT * FROM src");
}

#[test]
fn plain_select_and_with() {
    let s = parse_statement("SELECT 1 + 1 ;  ").unwrap();
    assert_eq!(s.kind, StatementKind::Select);
    assert_eq!(s.target, None);
    assert_eq!(s.partitioned_by, None);
    assert_eq!(s.query_sql, "SELECT 1 + 1");
    let s = parse_statement("  -- leading comment\nWITH x AS (SELECT 1 AS a) SELECT a FROM x").unwrap();
    assert_eq!(s.kind, StatementKind::Select);
    assert_eq!(s.query_sql, "WITH x AS (SELECT 1 AS a) SELECT a FROM x");
}

#[test]
fn insert_requires_partitioned_by() {
    assert_eq!(
        validation("INSERT INTO dst SELECT * FROM src"),
        "Operation [INSERT] requires a PARTITIONED BY to be explicitly defined, but none was found."
    );
    assert_eq!(
        validation("REPLACE INTO dst OVERWRITE ALL SELECT * FROM src"),
        "Operation [REPLACE] requires a PARTITIONED BY to be explicitly defined, but none was found."
    );
}

#[test]
fn partitioned_by_on_select_is_invalid() {
    let m = validation("SELECT * FROM src PARTITIONED BY DAY");
    assert!(m.contains("PARTITIONED BY"), "{m}");
    let m = validation("SELECT * FROM src CLUSTERED BY x");
    assert!(m.contains("CLUSTERED BY"), "{m}");
}

#[test]
fn granularity_forms() {
    let g = |clause: &str| {
        parse_statement(&format!("INSERT INTO t SELECT * FROM s PARTITIONED BY {clause}"))
            .map(|s| s.partitioned_by.unwrap())
    };
    assert_eq!(g("HOUR").unwrap(), Granularity::Hour);
    assert_eq!(g("day").unwrap(), Granularity::Day);
    assert_eq!(g("MONTH").unwrap(), Granularity::Month);
    assert_eq!(g("YEAR").unwrap(), Granularity::Year);
    assert_eq!(g("WEEK").unwrap(), Granularity::Week);
    assert_eq!(g("QUARTER").unwrap(), Granularity::Quarter);
    assert_eq!(g("MINUTE").unwrap(), Granularity::Minute);
    assert_eq!(g("SECOND").unwrap(), Granularity::Second);
    assert_eq!(g("FIVE_MINUTE").unwrap(), Granularity::FiveMinute);
    assert_eq!(g("ALL").unwrap(), Granularity::All);
    assert_eq!(g("ALL TIME").unwrap(), Granularity::All);
    assert_eq!(g("'P1D'").unwrap(), Granularity::Day);
    assert_eq!(g("'PT1H'").unwrap(), Granularity::Hour);
    assert_eq!(g("FLOOR(__time TO DAY)").unwrap(), Granularity::Day);
    assert_eq!(g("FLOOR(\"__time\" TO MONTH)").unwrap(), Granularity::Month);
    assert_eq!(g("TIME_FLOOR(__time, 'PT1H')").unwrap(), Granularity::Hour);
    assert_eq!(g("TIME_FLOOR( __time , 'P1Y' )").unwrap(), Granularity::Year);
}

#[test]
fn invalid_granularities() {
    for bad in [
        "DECADE",
        "'PT2H'",
        "FLOOR(other TO DAY)",
        "TIME_FLOOR(__time, 'PT7H')",
        "DAY LIMIT 10",
        "1",
    ] {
        let m = validation(&format!("INSERT INTO t SELECT * FROM s PARTITIONED BY {bad}"));
        assert_eq!(
                m,
                format!(
                    "Invalid granularity[{bad}] specified after PARTITIONED BY clause. Expected HOUR, DAY, MONTH, YEAR, ALL TIME, FLOOR() or TIME_FLOOR()"
                )
            );
    }
    parse_error("INSERT INTO t SELECT * FROM s PARTITIONED BY");
    parse_error("INSERT INTO t SELECT * FROM s PARTITIONED DAY");
}

#[test]
fn clustered_by_items() {
    let s = parse_statement(
            "INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY \"Channel\", page ASC, 2, LOWER(\"user\"), a + 1",
        )
        .unwrap();
    assert_eq!(
        s.clustered_by,
        vec![
            ClusterKey::Column("Channel".into()),
            ClusterKey::Column("page".into()),
            ClusterKey::Ordinal(2),
            ClusterKey::Expr("LOWER(\"user\")".into()),
            ClusterKey::Expr("a + 1".into()),
        ]
    );
    assert_eq!(s.query_sql, "SELECT * FROM s");
}

#[test]
fn clustered_by_desc_is_invalid() {
    assert_eq!(
        validation("INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY a, x DESC"),
        "Invalid CLUSTERED BY clause [x DESC]: cannot sort in descending order."
    );
    validation("INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY 0");
}

#[test]
fn clustered_before_partitioned_is_an_error() {
    let m = parse_error("INSERT INTO t SELECT * FROM s CLUSTERED BY a PARTITIONED BY DAY");
    assert!(m.contains("CLUSTERED BY found before PARTITIONED BY"), "{m}");
    let m = parse_error("INSERT INTO t SELECT * FROM s CLUSTERED BY a");
    assert!(m.contains("CLUSTERED BY found before PARTITIONED BY"), "{m}");
}

#[test]
fn replace_requires_overwrite() {
    let expected = "Missing time chunk information in OVERWRITE clause for REPLACE. Use OVERWRITE WHERE <__time based condition> or OVERWRITE ALL to overwrite the entire table.";
    assert_eq!(
        validation("REPLACE INTO dst SELECT * FROM src PARTITIONED BY DAY"),
        expected
    );
    assert_eq!(
        validation("REPLACE INTO dst OVERWRITE SELECT * FROM src PARTITIONED BY DAY"),
        expected
    );
    parse_error("REPLACE INTO dst OVERWRITE SOME SELECT * FROM src PARTITIONED BY DAY");
}

#[test]
fn overwrite_where_conditions() {
    let ow = |cond: &str| parse_overwrite_where(cond);
    let day = |d: &str| ms(&format!("{d}T00:00:00Z"));
    assert_eq!(
        ow("__time >= '2015-09-12'").unwrap(),
        vec![Interval::new(day("2015-09-12"), i64::MAX)]
    );
    assert_eq!(
        ow("__time > '2015-09-12'").unwrap(),
        vec![Interval::new(day("2015-09-12") + 1, i64::MAX)]
    );
    assert_eq!(
        ow("__time < '2015-09-12'").unwrap(),
        vec![Interval::new(i64::MIN, day("2015-09-12"))]
    );
    assert_eq!(
        ow("__time <= '2015-09-12'").unwrap(),
        vec![Interval::new(i64::MIN, day("2015-09-12") + 1)]
    );
    assert_eq!(
        ow("__time = '2015-09-12'").unwrap(),
        vec![Interval::new(day("2015-09-12"), day("2015-09-12") + 1)]
    );
    assert_eq!(
        ow("'2015-09-12' <= __time AND TIMESTAMP '2015-09-13T00:00:00Z' > __time").unwrap(),
        vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
    );
    assert_eq!(
        ow("__time BETWEEN TIMESTAMP '2015-09-12 00:00:00' AND TIMESTAMP '2015-09-12 23:59:59.999'").unwrap(),
        vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
    );
    assert_eq!(
        ow("__time >= TIME_PARSE('2015-09-12') AND __time < TIME_PARSE('2015-09-13')").unwrap(),
        vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
    );
    // OR merges adjacent and overlapping ranges and keeps them sorted.
    assert_eq!(
            ow("(__time >= '2015-09-14' AND __time < '2015-09-15') OR (__time >= '2015-09-12' AND __time < '2015-09-13') OR (__time >= '2015-09-13' AND __time < '2015-09-13T12:00:00Z')").unwrap(),
            vec![
                Interval::new(day("2015-09-12"), ms("2015-09-13T12:00:00Z")),
                Interval::new(day("2015-09-14"), day("2015-09-15")),
            ]
        );
    assert_eq!(
        ow("__time >= 1442016000000").unwrap(),
        vec![Interval::new(1442016000000, i64::MAX)]
    );
}

#[test]
fn overwrite_where_errors() {
    assert_eq!(
        validation("REPLACE INTO t OVERWRITE WHERE channel = 'x' SELECT * FROM s PARTITIONED BY DAY"),
        "Only __time column is supported in OVERWRITE WHERE clause"
    );
    assert_eq!(
        validation(
            "REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-12' AND dim > 1 SELECT * FROM s PARTITIONED BY DAY"
        ),
        "Only __time column is supported in OVERWRITE WHERE clause"
    );
    validation("REPLACE INTO t OVERWRITE WHERE NOT __time >= '2015-09-12' SELECT * FROM s PARTITIONED BY DAY");
    validation("REPLACE INTO t OVERWRITE WHERE __time >= 'yesterday' SELECT * FROM s PARTITIONED BY DAY");
    validation("REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-13' AND __time < '2015-09-12' SELECT * FROM s PARTITIONED BY DAY");
    parse_error("REPLACE INTO t OVERWRITE WHERE __time >= SELECT * FROM s PARTITIONED BY DAY");
    let s = parse_statement(
            "REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-12T01:30:00Z' AND __time < '2015-09-12T03:00:00Z' SELECT * FROM s PARTITIONED BY HOUR",
        )
        .unwrap();
    assert!(matches!(s.validate_overwrite_alignment(), Err(MsqError::Validation(_))));
}

#[test]
fn extern_named_arguments_and_alias() {
    let sql = r#"INSERT INTO t SELECT e."x" FROM TABLE(EXTERN(inputSource => '{"type":"inline","data":"a"}', inputFormat => '{"type":"csv","findColumnsFromHeader":false,"columns":["x"]}', signature => '[{"name":"x","type":"string"}]')) AS e PARTITIONED BY ALL"#;
    let s = parse_statement(sql).unwrap();
    assert_eq!(s.query_sql, r#"SELECT e."x" FROM "__extern_0" AS e"#);
    assert_eq!(s.externs[0].input_source, json!({"type":"inline","data":"a"}));
    assert_eq!(s.externs[0].input_format["type"], json!("csv"));
    assert_eq!(s.externs[0].signature.0[0].name, "x");
}

#[test]
fn extern_with_extend_and_escaped_quotes() {
    let sql = r#"INSERT INTO t
SELECT * FROM TABLE(EXTERN('{"type":"inline","data":"it''s"}', '{"type":"json"}'))
  EXTEND ("timestamp" VARCHAR, added BIGINT, delta DOUBLE, ratio FLOAT, tags VARCHAR ARRAY, ids BIGINT ARRAY) ext
JOIN TABLE(EXTERN('{"type":"local","files":["/tmp/b.json"]}', '{"type":"json"}')) (k VARCHAR) b ON ext.added = b.k
PARTITIONED BY DAY"#;
    let s = parse_statement(sql).unwrap();
    assert_eq!(
        s.query_sql,
        "SELECT * FROM \"__extern_0\" ext\nJOIN \"__extern_1\" b ON ext.added = b.k"
    );
    assert_eq!(s.externs.len(), 2);
    assert_eq!(s.externs[0].input_source["data"], json!("it's"));
    let types: Vec<_> = s.externs[0]
        .signature
        .0
        .iter()
        .map(|c| (c.name.clone(), c.column_type.name()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("timestamp".to_string(), "STRING".to_string()),
            ("added".to_string(), "LONG".to_string()),
            ("delta".to_string(), "DOUBLE".to_string()),
            ("ratio".to_string(), "FLOAT".to_string()),
            ("tags".to_string(), "ARRAY<STRING>".to_string()),
            ("ids".to_string(), "ARRAY<LONG>".to_string()),
        ]
    );
    assert_eq!(s.externs[1].table_name, "__extern_1");
    assert_eq!(s.externs[1].signature.0[0].name, "k");
}

#[test]
fn extern_errors() {
    let m =
        validation(r#"SELECT * FROM TABLE(EXTERN('{"type": ', '{"type":"json"}', '[{"name":"x","type":"string"}]'))"#);
    assert!(m.contains("[inputSource]"), "{m}");
    let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', 'json', '[{"name":"x","type":"string"}]'))"#);
    assert!(m.contains("[inputFormat]"), "{m}");
    let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}', '[{"name":"x"'))"#);
    assert!(m.contains("[signature]"), "{m}");
    let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}'))"#);
    assert!(m.contains("EXTEND"), "{m}");
    let m = validation(
        r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}', '[{"name":"x","type":"string"}]')) EXTEND (x VARCHAR)"#,
    );
    assert!(m.contains("not both"), "{m}");
    let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}')) EXTEND (x GEOMETRY)"#);
    assert!(m.contains("GEOMETRY"), "{m}");
}

#[test]
fn order_by_detection() {
    assert!(parse_statement("SELECT a FROM t ORDER BY a").unwrap().has_order_by);
    assert!(
        !parse_statement("SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM t")
            .unwrap()
            .has_order_by
    );
    assert!(
        !parse_statement("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 5)")
            .unwrap()
            .has_order_by
    );
    assert!(
        parse_statement("SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1")
            .unwrap()
            .has_order_by
    );
    let s = parse_statement("INSERT INTO x SELECT a FROM t ORDER BY a PARTITIONED BY DAY").unwrap();
    assert!(s.has_order_by);
    assert_eq!(s.query_sql, "SELECT a FROM t ORDER BY a");
}

#[test]
fn floor_and_ceil_to_unit_are_rewritten() {
    let s = parse_statement(
            "INSERT INTO t SELECT FLOOR(__time TO HOUR) AS __time, CEIL(\"ts\" TO MONTH), floor(x), FLOOR(FLOOR(__time TO DAY) TO WEEK) FROM s PARTITIONED BY FLOOR(__time TO DAY) CLUSTERED BY FLOOR(__time TO MINUTE)",
        )
        .unwrap();
    assert_eq!(
            s.query_sql,
            "SELECT TIME_FLOOR(__time, 'PT1H') AS __time, TIME_CEIL(\"ts\", 'P1M'), floor(x), TIME_FLOOR(TIME_FLOOR(__time, 'P1D'), 'P1W') FROM s"
        );
    assert_eq!(s.partitioned_by, Some(Granularity::Day));
    assert_eq!(
        s.clustered_by,
        vec![ClusterKey::Expr("TIME_FLOOR(__time, 'PT1M')".into())]
    );
    validation("SELECT FLOOR(__time TO DECADE) FROM t");
}

#[test]
fn unparsable_headers() {
    let m = parse_error("INSERT wikipedia SELECT * FROM t PARTITIONED BY DAY");
    assert!(
        m.contains("[wikipedia]") && m.contains("INTO") && m.contains("line [1], column [8]"),
        "{m}"
    );
    let m = parse_error("INSERT INTO");
    assert!(m.contains("end of statement"), "{m}");
    let m = parse_error("INSERT INTO SELECT * FROM t PARTITIONED BY DAY");
    assert!(m.contains("[SELECT]"), "{m}");
    parse_error("INSERT INTO t PARTITIONED BY DAY");
    parse_error("DELETE FROM t");
    parse_error("");
    parse_error("SELECT 1; SELECT 2");
    parse_error("SELECT 'unterminated");
    let m = parse_error("REPLACE dst OVERWRITE ALL SELECT 1 PARTITIONED BY DAY");
    assert!(m.contains("[dst]"), "{m}");
}

#[test]
fn target_column_lists_and_zoned_overwrite() {
    assert_eq!(
        validation("INSERT INTO dst (foo, bar) SELECT dim1, dim2 FROM foo PARTITIONED BY ALL TIME"),
        "Operation [INSERT] cannot be run with a target column list, given [dst (`foo`, `bar`)]"
    );
    assert_eq!(
        validation("REPLACE INTO dst (foo) OVERWRITE ALL SELECT dim1 FROM foo PARTITIONED BY ALL TIME"),
        "Operation [REPLACE] cannot be run with a target column list, given [dst (`foo`)]"
    );
    // A parenthesised query is not a column list.
    assert!(parse_statement("INSERT INTO dst (SELECT __time FROM foo) PARTITIONED BY DAY").is_ok());
    let la = Zone::parse("America/Los_Angeles").unwrap();
    let s = parse_statement_in_zone(
            "REPLACE INTO t OVERWRITE WHERE __time >= TIMESTAMP '2015-09-12' AND __time < TIMESTAMP '2015-09-13' SELECT * FROM x PARTITIONED BY DAY",
            &la,
        )
        .unwrap();
    assert_eq!(
        s.overwrite,
        Some(Overwrite::Where(vec![Interval::new(
            ms("2015-09-12T07:00:00Z"),
            ms("2015-09-13T07:00:00Z")
        )]))
    );
}

#[test]
fn target_names() {
    let s = parse_statement("INSERT INTO \"my-ds.v2\" SELECT 1 AS x PARTITIONED BY ALL").unwrap();
    assert_eq!(s.target.as_deref(), Some("my-ds.v2"));
    let s = parse_statement("insert into druid.Wiki select 1 as x partitioned by all").unwrap();
    assert_eq!(s.target.as_deref(), Some("Wiki"));
    validation("INSERT INTO sys.segments SELECT 1 PARTITIONED BY ALL");
    for bad in [
        "\".\"",
        "\"..\"",
        "\"a/b\"",
        "sys",
        "\"__time\"",
        "\"a\u{0}b\"",
        "\".hidden\"",
    ] {
        validation(&format!("INSERT INTO {bad} SELECT 1 AS x PARTITIONED BY ALL"));
        validation(&format!(
            "REPLACE INTO {bad} OVERWRITE ALL SELECT 1 AS x PARTITIONED BY ALL"
        ));
    }
    let s = parse_statement("INSERT INTO \"wiki-2024_v1\" SELECT 1 AS x PARTITIONED BY ALL").unwrap();
    assert_eq!(s.target.as_deref(), Some("wiki-2024_v1"));
}

#[test]
fn unicode_and_comment_hints() {
    let s = parse_statement(
        "INSERT INTO \"wiki-ü\" SELECT 'héllo → ✓' AS x, \"ñame\" FROM s PARTITIONED BY DAY CLUSTERED BY \"ñame\"",
    )
    .unwrap();
    assert_eq!(s.target.as_deref(), Some("wiki-ü"));
    assert_eq!(s.query_sql, "SELECT 'héllo → ✓' AS x, \"ñame\" FROM s");
    assert_eq!(s.clustered_by, vec![ClusterKey::Column("ñame".into())]);
    let s = parse_statement("SELECT /*! hint */ 1 AS x").unwrap();
    assert!(
        s.query_sql.starts_with("SELECT") && s.query_sql.ends_with("1 AS x"),
        "{}",
        s.query_sql
    );
}

#[test]
fn whitespace_and_comments_are_kept() {
    let sql = "INSERT INTO t\r\nSELECT\r\n  a, -- the a column\n  'it''s' AS b /* c */\nFROM s\nPARTITIONED BY DAY -- trailing\n;";
    let s = parse_statement(sql).unwrap();
    assert_eq!(
        s.query_sql,
        "SELECT\r\n  a, -- the a column\n  'it''s' AS b /* c */\nFROM s"
    );
}
