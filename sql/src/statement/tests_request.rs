use super::*;
use msq_engine::MsqError;
use serde_json::{json, Map, Value};

fn context(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn validation(sql: &str) -> String {
    match parse_request(sql) {
        Err(MsqError::Validation(m)) => m,
        other => panic!("expected a validation error for {sql}, got {other:?}"),
    }
}

fn parse_error(sql: &str) -> String {
    match parse_request(sql) {
        Err(MsqError::SqlParse(m)) => m,
        other => panic!("expected a parse error for {sql}, got {other:?}"),
    }
}

#[test]
fn a_plain_statement_is_the_request_unchanged() {
    let sql = "  SELECT 1 -- no SET\n";
    let r = parse_request(sql).unwrap();
    assert_eq!(r.context, Map::new());
    assert!(!r.explain);
    assert_eq!(r.statement, sql);
}

#[test]
fn set_statements_assign_literals_and_are_blanked_out() {
    let sql = "SET maxNumTasks = 3;\nset \"sqlTimeZone\" = 'America/Los_Angeles';\n  SET finalizeAggregations = FALSE; SET useCache = true;\n\
               SET rowsPerSegment = +500; SET maxParseExceptions = -1; SET ratio = 2.5; SET big = 1e3; SET nothing = NULL;\n\
               SET quote = 'it''s';\nSELECT 1";
    let r = parse_request(sql).unwrap();
    assert_eq!(
        r.context,
        context(json!({
            "maxNumTasks": 3, "sqlTimeZone": "America/Los_Angeles", "finalizeAggregations": false,
            "useCache": true, "rowsPerSegment": 500, "maxParseExceptions": -1, "ratio": 2.5,
            "big": 1000.0, "nothing": null, "quote": "it's",
        }))
    );
    assert!(!r.explain);
    // Line breaks stay where they were, so errors in the statement point into the request.
    assert_eq!(r.statement.lines().count(), sql.lines().count());
    assert_eq!(r.statement.trim(), "SELECT 1");
    assert_eq!(r.statement.lines().last(), Some("SELECT 1"));
    assert_eq!(r.statement.len(), sql.len());
}

#[test]
fn a_later_set_wins_and_set_wins_over_the_request_context() {
    let r = parse_request("SET maxNumTasks = 3; SET maxNumTasks = 4; SELECT 1").unwrap();
    assert_eq!(r.context, context(json!({"maxNumTasks": 4})));
    let merged = r.merged_context(&context(json!({"maxNumTasks": 2, "sqlQueryId": "q1"})));
    assert_eq!(merged, context(json!({"maxNumTasks": 4, "sqlQueryId": "q1"})));
}

#[test]
fn explain_plan_for_after_set_statements() {
    let r = parse_request("SET maxNumTasks = 5;\nEXPLAIN PLAN FOR\nINSERT INTO t SELECT * FROM u PARTITIONED BY DAY")
        .unwrap();
    assert_eq!(r.context, context(json!({"maxNumTasks": 5})));
    assert!(r.explain);
    assert_eq!(
        r.statement,
        "                    \n                \nINSERT INTO t SELECT * FROM u PARTITIONED BY DAY"
    );
    let s = parse_statement(&r.statement).unwrap();
    assert_eq!(s.kind, StatementKind::Insert);
    assert_eq!(s.target.as_deref(), Some("t"));

    let r = parse_request("explain plan for SELECT 1").unwrap();
    assert!(r.explain);
    assert_eq!(r.context, Map::new());
    assert_eq!(r.statement.trim(), "SELECT 1");
}

#[test]
fn bad_explain_is_a_parse_error() {
    assert_eq!(
        parse_error("EXPLAIN SELECT 1"),
        "Received an unexpected token [SELECT] (line [1], column [9]), acceptable options: [\"PLAN\"]"
    );
    assert_eq!(
        parse_error("EXPLAIN PLAN SELECT 1"),
        "Received an unexpected token [SELECT] (line [1], column [14]), acceptable options: [\"FOR\"]"
    );
    // The statement after EXPLAIN PLAN FOR is parsed like any other.
    let r = parse_request("EXPLAIN PLAN FOR DELETE FROM t").unwrap();
    assert!(r.explain);
    assert!(matches!(parse_statement(&r.statement), Err(MsqError::SqlParse(_))));
}

#[test]
fn set_without_a_statement_is_druids_error() {
    let expected = |sql: &str| {
        format!("Invalid sql statement list[{sql}] - statement list must end with a statement that is not a SET")
    };
    assert_eq!(validation("SET maxNumTasks = 3;"), expected("SET maxNumTasks = 3;"));
    assert_eq!(validation("SET maxNumTasks = 3"), expected("SET maxNumTasks = 3"));
    assert_eq!(
        validation("SET a = 1; SET b = 2; -- only\n"),
        expected("SET a = 1; SET b = 2; -- only")
    );
}

#[test]
fn set_values_must_be_literals() {
    assert_eq!(
        validation("SET maxNumTasks = three; SELECT 1"),
        "Assigned value must be a literal for SET statement[SET maxNumTasks = three]"
    );
    assert_eq!(
        validation("SET x = \"quoted\"; SELECT 1"),
        "Assigned value must be a literal for SET statement[SET x = \"quoted\"]"
    );
}

#[test]
fn bad_set_syntax_is_a_parse_error() {
    assert_eq!(
        parse_error("SET = 3; SELECT 1"),
        "Received an unexpected token [=] (line [1], column [5]), acceptable options: [<identifier>]"
    );
    assert_eq!(
        parse_error("SET maxNumTasks 3; SELECT 1"),
        "Received an unexpected token [3] (line [1], column [17]), acceptable options: [\"=\"]"
    );
    assert_eq!(
        parse_error("SET maxNumTasks = ; SELECT 1"),
        "Received an unexpected token [;] (line [1], column [19]), acceptable options: [<literal>]"
    );
    assert_eq!(
        parse_error("SET maxNumTasks = 3 SELECT 1"),
        "Received an unexpected token [SELECT] (line [1], column [21]), acceptable options: [\";\"]"
    );
    assert_eq!(
        parse_error("SET a.b = 3; SELECT 1"),
        "Received an unexpected token [.] (line [1], column [6]), acceptable options: [\"=\"]"
    );
    assert_eq!(
        parse_error("SET n = -x; SELECT 1"),
        "Received an unexpected token [x] (line [1], column [10]), acceptable options: [<number>]"
    );
    assert_eq!(
        parse_error("SET maxNumTasks ="),
        "Received an unexpected end of statement, acceptable options: [<literal>]"
    );
}

#[test]
fn a_statement_before_a_set_is_more_than_one_statement() {
    let r = parse_request("SELECT 1; SET maxNumTasks = 3; SELECT 2").unwrap();
    assert_eq!(r.context, Map::new());
    assert!(matches!(parse_statement(&r.statement), Err(MsqError::SqlParse(_))));
}

#[test]
fn set_statements_are_recognised() {
    assert!(is_set_statement("-- c\n  set x = 1"));
    assert!(!is_set_statement("SELECT 1"));
    assert!(!is_set_statement("\"SET\""));
}
