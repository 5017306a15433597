use crate::functions::register_druid_functions;
use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use msq_engine::MsqError;

async fn ctx() -> SessionContext {
    let ctx = SessionContext::new();
    register_druid_functions(&ctx);
    ctx
}

/// The first column of `sql` as JSON values (as results render them).
async fn column(sql: &str) -> Vec<serde_json::Value> {
    let batches: Vec<RecordBatch> = ctx().await.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        out.extend(json_values(b.column(0)));
    }
    out
}

fn json_values(a: &arrow::array::ArrayRef) -> Vec<serde_json::Value> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                return serde_json::Value::Null;
            }
            match a.data_type() {
                DataType::List(_) => serde_json::Value::Array(json_values(&a.as_list::<i32>().value(i))),
                DataType::Boolean => serde_json::json!(a.as_boolean().value(i)),
                DataType::Int64 => serde_json::json!(a.as_primitive::<arrow::datatypes::Int64Type>().value(i)),
                DataType::Utf8 => serde_json::json!(a.as_string::<i32>().value(i)),
                other => serde_json::json!(format!("{other}")),
            }
        })
        .collect()
}

async fn one(sql: &str) -> serde_json::Value {
    let v = column(sql).await;
    assert_eq!(v.len(), 1, "{sql}");
    v[0].clone()
}

async fn error(sql: &str) -> MsqError {
    let ctx = ctx().await;
    let e = match ctx.sql(sql).await {
        Err(e) => e,
        Ok(df) => df.collect().await.expect_err("expected an error"),
    };
    MsqError::from(e)
}

use serde_json::json;

#[tokio::test]
async fn offsets_ordinals_and_slices_are_druid_indexed() {
    assert_eq!(one("SELECT ARRAY_OFFSET(ARRAY['a','b','c'], 1)").await, json!("b"));
    assert_eq!(one("SELECT ARRAY_ORDINAL(ARRAY['a','b','c'], 1)").await, json!("a"));
    assert_eq!(one("SELECT ARRAY_OFFSET(ARRAY[1,2,3], 3)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_OFFSET(ARRAY[1,2,3], -1)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_ORDINAL(ARRAY[1,2,3], 0)").await, json!(null));
    assert_eq!(
        one("SELECT ARRAY_OFFSET(ARRAY[1,2,3], 9223372036854775807)").await,
        json!(null)
    );
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 1, 3)").await, json!([2, 3]));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 2)").await, json!([3, 4]));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 1, 99)").await, json!([2, 3, 4]));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 3, 1)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], -1, 2)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 5, 6)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_SLICE(ARRAY[1,2,3,4], 4, 6)").await, json!([]));
}

#[tokio::test]
async fn contains_overlap_and_positions() {
    assert_eq!(one("SELECT ARRAY_CONTAINS(ARRAY['a','b'], 'a')").await, json!(true));
    assert_eq!(
        one("SELECT ARRAY_CONTAINS(ARRAY['a','b'], ARRAY['a','b'])").await,
        json!(true)
    );
    assert_eq!(
        one("SELECT ARRAY_CONTAINS(ARRAY['a','b'], ARRAY['a','c'])").await,
        json!(false)
    );
    assert_eq!(one("SELECT ARRAY_CONTAINS(ARRAY[1,2,3], 2)").await, json!(true));
    assert_eq!(one("SELECT ARRAY_CONTAINS(ARRAY[1.5,2.5], 2.5)").await, json!(true));
    assert_eq!(
        one("SELECT ARRAY_OVERLAP(ARRAY['a','b'], ARRAY['c','b'])").await,
        json!(true)
    );
    assert_eq!(
        one("SELECT ARRAY_OVERLAP(ARRAY['a','b'], ARRAY['c'])").await,
        json!(false)
    );
    assert_eq!(one("SELECT ARRAY_OFFSET_OF(ARRAY['a','b','b'], 'b')").await, json!(1));
    assert_eq!(one("SELECT ARRAY_ORDINAL_OF(ARRAY['a','b','b'], 'b')").await, json!(2));
    assert_eq!(one("SELECT ARRAY_ORDINAL_OF(ARRAY['a'], 'z')").await, json!(null));
    assert_eq!(one("SELECT ARRAY_LENGTH(ARRAY[1,2,3])").await, json!(3));
    assert_eq!(
        one("SELECT ARRAY_CONTAINS(CAST(NULL AS VARCHAR), 'a')").await,
        json!(null)
    );
}

#[tokio::test]
async fn building_and_joining() {
    assert_eq!(one("SELECT ARRAY_APPEND(ARRAY[1,2], 3)").await, json!([1, 2, 3]));
    assert_eq!(one("SELECT ARRAY_PREPEND(0, ARRAY[1,2])").await, json!([0, 1, 2]));
    assert_eq!(
        one("SELECT ARRAY_CONCAT(ARRAY['a'], ARRAY['b','c'])").await,
        json!(["a", "b", "c"])
    );
    assert_eq!(
        one("SELECT ARRAY_TO_STRING(ARRAY['a', NULL, 'c'], '-')").await,
        json!("a-null-c")
    );
    assert_eq!(one("SELECT ARRAY_TO_STRING(ARRAY[1,2], ',')").await, json!("1,2"));
    assert_eq!(
        one("SELECT STRING_TO_ARRAY('a,b,,c,,', ',')").await,
        json!(["a", "b", "", "c"])
    );
    assert_eq!(
        one("SELECT STRING_TO_ARRAY('a1b22c', '[0-9]+')").await,
        json!(["a", "b", "c"])
    );
    assert_eq!(one("SELECT STRING_TO_ARRAY('', ',')").await, json!([""]));
    assert_eq!(one("SELECT STRING_TO_ARRAY(',,', ',')").await, json!([]));
    assert_eq!(
        one("SELECT STRING_TO_ARRAY(CAST(NULL AS VARCHAR), ',')").await,
        json!(null)
    );
    let e = error("SELECT STRING_TO_ARRAY('a', '(')").await;
    assert_eq!(e.error_code(), "InvalidInput", "{e}");
}

#[tokio::test]
async fn multi_value_functions() {
    assert_eq!(one("SELECT MV_LENGTH(STRING_TO_MV('a,b,c', ','))").await, json!(3));
    assert_eq!(one("SELECT MV_LENGTH('solo')").await, json!(1));
    assert_eq!(one("SELECT MV_OFFSET(STRING_TO_MV('a,b,c', ','), 2)").await, json!("c"));
    assert_eq!(
        one("SELECT MV_ORDINAL(STRING_TO_MV('a,b,c', ','), 2)").await,
        json!("b")
    );
    assert_eq!(
        one("SELECT MV_CONTAINS(STRING_TO_MV('a,b,c', ','), 'b')").await,
        json!(true)
    );
    assert_eq!(one("SELECT MV_CONTAINS('b', 'b')").await, json!(true));
    assert_eq!(
        one("SELECT MV_OVERLAP(STRING_TO_MV('a,b', ','), ARRAY['x','a'])").await,
        json!(true)
    );
    assert_eq!(
        one("SELECT MV_FILTER_ONLY(STRING_TO_MV('a,b,c', ','), ARRAY['a','c'])").await,
        json!(["a", "c"])
    );
    assert_eq!(
        one("SELECT MV_FILTER_NONE(STRING_TO_MV('a,b,c', ','), ARRAY['a','c'])").await,
        json!(["b"])
    );
    assert_eq!(
        one("SELECT MV_TO_STRING(STRING_TO_MV('a,b,c', ','), '|')").await,
        json!("a|b|c")
    );
    assert_eq!(
        one("SELECT MV_APPEND(STRING_TO_MV('a,b', ','), 'c')").await,
        json!(["a", "b", "c"])
    );
    assert_eq!(
        one("SELECT MV_PREPEND('z', STRING_TO_MV('a,b', ','))").await,
        json!(["z", "a", "b"])
    );
    assert_eq!(
        one("SELECT MV_CONCAT('a', STRING_TO_MV('b,c', ','))").await,
        json!(["a", "b", "c"])
    );
    assert_eq!(
        one("SELECT MV_SLICE(STRING_TO_MV('a,b,c', ','), 1, 2)").await,
        json!(["b"])
    );
    assert_eq!(
        one("SELECT MV_OFFSET_OF(STRING_TO_MV('a,b,c', ','), 'c')").await,
        json!(2)
    );
    assert_eq!(
        one("SELECT MV_TO_ARRAY(STRING_TO_MV('a,b', ','))").await,
        json!(["a", "b"])
    );
    assert_eq!(one("SELECT ARRAY_TO_MV(ARRAY[1,2])").await, json!(["1", "2"]));
    let t = one("SELECT arrow_typeof(STRING_TO_MV('a', ','))").await;
    assert!(t.as_str().unwrap().contains("druid_mv"), "{t}");
    let t = one("SELECT arrow_typeof(MV_TO_ARRAY(STRING_TO_MV('a', ',')))").await;
    assert!(!t.as_str().unwrap().contains("druid_mv"), "{t}");
}

#[tokio::test]
async fn over_columns_with_nulls() {
    let v =
        column("SELECT ARRAY_OFFSET(a, 0) FROM (VALUES (ARRAY['x','y']), (NULL), (ARRAY[]::VARCHAR[])) AS t(a)").await;
    assert_eq!(v, vec![json!("x"), json!(null), json!(null)]);
    let v = column("SELECT MV_LENGTH(s) FROM (VALUES ('a'), (NULL)) AS t(s)").await;
    assert_eq!(v, vec![json!(1), json!(null)]);
}

#[tokio::test]
async fn wrong_arguments_are_user_errors() {
    let e = error("SELECT ARRAY_OFFSET(ARRAY[1], 'x')").await;
    assert_eq!(e.error_code(), "InvalidInput", "{e}");
    let e = error("SELECT MV_LENGTH(1)").await;
    assert_eq!(e.error_code(), "InvalidInput", "{e}");
    let e = error("SELECT ARRAY_SLICE(ARRAY[1])").await;
    assert_eq!(e.error_code(), "InvalidInput", "{e}");
}

#[tokio::test]
async fn hostile_inputs_stay_bounded() {
    // Huge or negative indexes, NULL arguments, nulls inside arrays: no panic, NULL results.
    assert_eq!(
        one("SELECT ARRAY_SLICE(ARRAY[1,2], -9223372036854775808, 9223372036854775807)").await,
        json!(null)
    );
    assert_eq!(
        one("SELECT ARRAY_SLICE(ARRAY[1,2], 0, 9223372036854775807)").await,
        json!([1, 2])
    );
    assert_eq!(
        one("SELECT ARRAY_ORDINAL(ARRAY[1,2], -9223372036854775808)").await,
        json!(null)
    );
    assert_eq!(one("SELECT ARRAY_OFFSET(ARRAY[1,2], NULL)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_OFFSET_OF(ARRAY['a', NULL], NULL)").await, json!(null));
    assert_eq!(one("SELECT ARRAY_CONTAINS(ARRAY[1, NULL], 'x')").await, json!(false));
    assert_eq!(one("SELECT ARRAY_OVERLAP(ARRAY[NULL], ARRAY['a'])").await, json!(false));
    assert_eq!(
        one("SELECT MV_TO_STRING(CAST(NULL AS VARCHAR), ',')").await,
        json!(null)
    );
    let v = one("SELECT ARRAY_LENGTH(STRING_TO_ARRAY(REPEAT('a,', 100000), ','))").await;
    assert_eq!(v, json!(100000));
    // A size limit that is not a constant integer is a user error.
    let e = error("SELECT druid_array_agg_limit(ARRAY['a'], 'x')").await;
    assert_eq!(e.error_code(), "InvalidInput", "{e}");
}

#[tokio::test]
async fn array_agg_limit_fails_like_druid() {
    assert_eq!(
        one("SELECT druid_array_agg_limit(ARRAY['ab', 'c'], 100)").await,
        json!(["ab", "c"])
    );
    // 5 + (1 + 4 + 2) + (1 + 4 + 1) bytes
    let e = error("SELECT druid_array_agg_limit(ARRAY['ab', 'c'], 17)").await;
    assert_eq!(e.error_code(), "UnknownError", "{e}");
    assert!(
        e.to_string()
            .contains("Exceeded memory usage when aggregating type [ARRAY<STRING>], size [18] is larger than max [17]"),
        "{e}"
    );
}
