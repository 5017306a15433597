//! The JSON functions through DataFusion SQL (the `RETURNING` and `KEY ... VALUE` forms are
//! rewritten by the planner; here they are written in their plain-call form).

use super::super::register_druid_functions;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use msq_engine::signature::is_json_field;

async fn run(sql: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new();
    register_druid_functions(&ctx);
    ctx.sql(sql).await?.collect().await
}

/// The single value of `sql` as display text (`NULL` for null).
async fn one(sql: &str) -> String {
    let batches = run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let b = &batches[0];
    assert_eq!(b.num_rows(), 1, "{sql}");
    let opts = FormatOptions::default().with_null("NULL");
    let text = ArrayFormatter::try_new(b.column(0).as_ref(), &opts)
        .unwrap()
        .value(0)
        .to_string();
    text
}

async fn error(sql: &str) -> String {
    run(sql).await.expect_err(sql).to_string()
}

const DOC: &str = r#"'{"x":1, "y":[1, 2, 3], "o":{"p":"q","n":null,"d":542.00,"b":true}}'"#;

#[tokio::test]
async fn json_value_and_query() {
    let j = format!("PARSE_JSON({DOC})");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.x')")).await, "1");
    assert_eq!(one(&format!("SELECT JSON_QUERY({j}, '$[''y'']')")).await, "[1,2,3]");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.y[1]')")).await, "2");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '.y[-1]')")).await, "3");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.y')")).await, "NULL");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.o.d')")).await, "542.0");
    assert_eq!(
        one(&format!("SELECT JSON_VALUE({j}, '$.o.d', 'BIGINT') + 1")).await,
        "543"
    );
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.o.b', 'BIGINT')")).await, "1");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.o.p', 'DOUBLE')")).await, "NULL");
    assert_eq!(one(&format!("SELECT JSON_VALUE({j}, '$.o.n')")).await, "NULL");
    assert_eq!(one(&format!("SELECT JSON_QUERY({j}, '$.o.n')")).await, "NULL");
    assert_eq!(
        one(&format!("SELECT JSON_QUERY({j}, '$')")).await,
        r#"{"x":1,"y":[1,2,3],"o":{"p":"q","n":null,"d":542.0,"b":true}}"#
    );
    assert_eq!(one(&format!("SELECT JSON_KEYS({j}, '$.')")).await, "[x, y, o]");
    assert_eq!(one(&format!("SELECT JSON_KEYS({j}, '$.y')")).await, "[0, 1, 2]");
    assert_eq!(one(&format!("SELECT JSON_KEYS({j}, '$.x')")).await, "NULL");
    assert_eq!(
        one(&format!("SELECT JSON_PATHS({j})")).await,
        "[$.x, $.y, $.o.p, $.o.n, $.o.d, $.o.b]"
    );
    assert_eq!(one(&format!("SELECT JSON_QUERY_ARRAY({j}, '$.y')")).await, "[1, 2, 3]");
    assert_eq!(one(&format!("SELECT JSON_QUERY_ARRAY({j}, '$.x')")).await, "[1]");
    assert_eq!(one("SELECT JSON_VALUE(CAST(NULL AS VARCHAR), '$.x')").await, "NULL");
    // A path from a column (Druid's dynamic form).
    let b = run(&format!(
        "SELECT JSON_VALUE({j}, p) FROM (VALUES ('$.x'), ('.y[2]'), (NULL)) AS t(p)"
    ))
    .await
    .unwrap();
    let v = b[0].column(0).as_string::<i32>();
    assert_eq!((v.value(0), v.value(1), v.is_null(2)), ("1", "3", true));
}

#[tokio::test]
async fn constructors_and_strings() {
    // Druid's docs (nested-columns.md): PARSE_JSON and TO_JSON_STRING.
    assert_eq!(one(r#"SELECT PARSE_JSON('{"x":"y"}')"#).await, r#"{"x":"y"}"#);
    assert_eq!(one(r#"SELECT TO_JSON_STRING('{"x":"y"}')"#).await, r#""{\"x\":\"y\"}""#);
    assert_eq!(
        one(r#"SELECT TO_JSON_STRING(PARSE_JSON('{"x":"y"}'))"#).await,
        r#"{"x":"y"}"#
    );
    assert_eq!(one("SELECT TO_JSON_STRING(1.5)").await, "1.5");
    assert_eq!(one("SELECT TRY_PARSE_JSON('{not json')").await, "NULL");
    assert_eq!(
        one(r#"SELECT JSON_OBJECT('shipTo', PARSE_JSON('{"a":1}'), 'details', 2, 'n', NULL)"#).await,
        r#"{"details":2,"n":null,"shipTo":{"a":1}}"#
    );
    assert_eq!(
        one(r#"SELECT JSON_MERGE('{"a":1,"b":2}', PARSE_JSON('{"b":3}'), '{"c":[4]}')"#).await,
        r#"{"a":1,"b":3,"c":[4]}"#
    );
    assert_eq!(
        one(r#"SELECT JSON_MERGE('{"a":1}', CAST(NULL AS VARCHAR))"#).await,
        "NULL"
    );
    let b = run("SELECT PARSE_JSON('1')").await.unwrap();
    assert!(is_json_field(b[0].schema().field(0)), "{:?}", b[0].schema());
}

#[tokio::test]
async fn user_errors() {
    let e = error("SELECT PARSE_JSON('{not json')").await;
    assert!(e.contains("Function[parse_json] bad string input [{not json]"), "{e}");
    let e = error(r#"SELECT JSON_VALUE(PARSE_JSON('{}'), 'abc')"#).await;
    assert!(e.contains("JSONPath [abc] is invalid, it must start with '$'"), "{e}");
    let e = error(r#"SELECT JSON_VALUE(PARSE_JSON('{}'), '$.a', 'WIDGET')"#).await;
    assert!(e.contains("invalid output type: [WIDGET]"), "{e}");
    let e = error("SELECT JSON_OBJECT('a')").await;
    assert!(e.contains("must have an even number of arguments"), "{e}");
    let e = error("SELECT JSON_OBJECT(1, 2)").await;
    assert!(e.contains("field name must be a STRING"), "{e}");
    let e = error("SELECT JSON_QUERY(PARSE_JSON('{}'))").await;
    assert!(e.contains("requires 2 argument(s), got 1"), "{e}");
    let e = error("SELECT JSON_KEYS(PARSE_JSON('{}'), concat('$', '.a'))").await;
    assert!(e.contains("must be a literal"), "{e}");
    let e = error("SELECT JSON_VALUE(PARSE_JSON('{}'), p) FROM (VALUES ('$.a'), ('a')) AS t(p)").await;
    assert!(e.contains("JSONPath [a] is invalid"), "{e}");
}

#[tokio::test]
async fn hostile_inputs() {
    // 10,000 levels of nesting: an error (PARSE_JSON) or NULL (TRY_PARSE_JSON), no overflow.
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let e = error(&format!("SELECT PARSE_JSON('{deep}')")).await;
    assert!(e.contains("recursion limit exceeded"), "{}", &e[..e.len().min(300)]);
    assert_eq!(one(&format!("SELECT TRY_PARSE_JSON('{deep}')")).await, "NULL");
    let deep_obj = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
    assert_eq!(one(&format!("SELECT JSON_VALUE('{deep_obj}', '$.a')")).await, "NULL");
    // A huge path is parsed, found missing, and answered NULL.
    let path = "$".to_string() + &".a".repeat(50_000);
    assert_eq!(
        one(&format!("SELECT JSON_VALUE(PARSE_JSON('{{\"a\":1}}'), '{path}')")).await,
        "NULL"
    );
}
