//! Druid's lookups API (`/druid/coordinator/v1/lookups/...`) against a real server on a
//! loopback port: Druid's documented config shapes round trip exactly, updates need a higher
//! version, hostile names, bodies and types get 4xx with Druid's error JSON (never 5xx), and
//! lookups defined through the API are what SQL reads, basic auth covers the routes. Also
//! `LOOKUP`, `lookup.<name>`, `APPEND` and `INLINE` on the process runner (plans carry the
//! maps to worker processes), `msq run --lookups`, and `TABLE(HTTP(...))` with basic auth.

mod common;

use common::http::{get, post_json, request, start_server, Resp};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const L: &str = "/druid/coordinator/v1/lookups";

fn container(version: &str, map: Value) -> Value {
    json!({"version": version, "lookupExtractorFactory": {"type": "map", "map": map}})
}

/// The map lookups of the example config of docs/api-reference/lookups-api.md ("Bulk
/// update"): its `cachedNamespace` lookup (`site_id`) left out.
fn docs_config() -> Value {
    json!({
        "__default": {
            "country_code": container("v0", json!({"77483": "United States"})),
            "site_id_customer1": container("v0", json!({"847632": "Internal Use Only"})),
            "site_id_customer2": container("v0", json!({"AHF77": "Home"}))
        },
        "realtime_customer1": {
            "country_code": container("v0", json!({"77483": "United States"})),
            "site_id_customer1": container("v0", json!({"847632": "Internal Use Only"}))
        },
        "realtime_customer2": {
            "country_code": container("v0", json!({"77483": "United States"})),
            "site_id_customer2": container("v0", json!({"AHF77": "Home"}))
        }
    })
}

async fn delete(addr: &str, path: &str) -> Resp {
    request(addr, "DELETE", path, &[], None).await
}

/// A Druid error body with `status`, whose message contains `needle`.
fn assert_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    for k in ["error", "errorMessage", "errorClass", "host"] {
        assert!(v.get(k).is_some(), "no [{k}] in {v}");
    }
    assert!(
        r.message().contains(needle),
        "[{}] does not contain [{needle}]",
        r.message()
    );
}

/// Rows of an interactive SQL query (objects, Druid's default result format).
async fn sql(addr: &str, query: &str) -> Value {
    let r = post_json(addr, "/druid/v2/sql", &json!({"query": query})).await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn druids_config_round_trips_and_feeds_sql() {
    let t = engine();
    let srv = start_server(Overlord::open_local(t.dir.path()).unwrap(), 2, 1 << 20, None).await;
    let a = srv.addr.as_str();

    let r = get(a, &format!("{L}/config")).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    // "If you have NEVER configured lookups before, you MUST post an empty json object {}".
    let r = post_json(a, &format!("{L}/config"), &json!({})).await;
    assert_eq!((r.status, r.json()), (202, json!({})));

    // The docs' whole example: its cachedNamespace lookup is refused, and nothing is written.
    let mut with_jdbc = docs_config();
    with_jdbc["__default"]["site_id"] =
        json!({"version": "v0", "lookupExtractorFactory": {"type": "cachedNamespace", "injective": true}});
    let r = post_json(a, &format!("{L}/config"), &with_jdbc).await;
    assert_error(
        &r,
        400,
        "lookupExtractorFactory type [cachedNamespace] is not supported",
    );
    assert_eq!(r.json()["error"], "Unsupported operation");
    assert_eq!(get(a, &format!("{L}/config/all")).await.json(), json!({}));

    let r = post_json(a, &format!("{L}/config"), &docs_config()).await;
    assert_eq!((r.status, r.json()), (202, docs_config()));
    let r = get(a, &format!("{L}/config")).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!(["__default", "realtime_customer1", "realtime_customer2"]))
    );
    let r = get(a, &format!("{L}/config/all")).await;
    assert_eq!((r.status, r.json()), (200, docs_config()));
    let r = get(a, &format!("{L}/config/realtime_customer2/site_id_customer2")).await;
    assert_eq!((r.status, r.json()), (200, container("v0", json!({"AHF77": "Home"}))));
    let r = get(a, &format!("{L}/config/__default")).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!(["country_code", "site_id_customer1", "site_id_customer2"]))
    );
    let r = get(a, &format!("{L}/config/realtime_customer1?detailed=true")).await;
    assert_eq!((r.status, r.json()), (200, docs_config()["realtime_customer1"].clone()));

    // docs/querying/datasource.md, "lookup": "To see a list of all lookup datasources, use the
    // SQL query SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'lookup'".
    let rows = sql(
        a,
        "SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'lookup'",
    )
    .await;
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["TABLE_NAME"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["country_code", "site_id_customer1", "site_id_customer2"]);
    assert_eq!(
        rows[0],
        json!({"TABLE_CATALOG": "druid", "TABLE_SCHEMA": "lookup", "TABLE_NAME": "country_code",
               "TABLE_TYPE": "TABLE", "IS_JOINABLE": "YES", "IS_BROADCAST": "YES"})
    );
    // INFORMATION_SCHEMA lists the __default tier's lookups as joinable tables of k and v.
    let rows = sql(
        a,
        "SELECT TABLE_NAME, TABLE_TYPE, IS_JOINABLE, IS_BROADCAST FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'lookup' ORDER BY 1",
    )
    .await;
    let table = |n: &str| json!({"TABLE_NAME": n, "TABLE_TYPE": "TABLE", "IS_JOINABLE": "YES", "IS_BROADCAST": "YES"});
    assert_eq!(
        rows,
        json!([
            table("country_code"),
            table("site_id_customer1"),
            table("site_id_customer2")
        ])
    );
    let rows = sql(
        a,
        "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'lookup' AND TABLE_NAME = 'country_code' ORDER BY ORDINAL_POSITION",
    )
    .await;
    assert_eq!(
        rows,
        json!([{"COLUMN_NAME": "k", "DATA_TYPE": "VARCHAR"}, {"COLUMN_NAME": "v", "DATA_TYPE": "VARCHAR"}])
    );

    // "Update lookup": the docs' example POST (version v1) replaces the lookup.
    let path = format!("{L}/config/realtime_customer1/site_id_customer1");
    let v1 = container("v1", json!({"847632": "Internal Use Only"}));
    let r = post_json(a, &path, &v1).await;
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    assert_eq!(get(a, &path).await.json(), v1);
    // The same again changes nothing; a lower or equal version with a new map is refused.
    assert_eq!(post_json(a, &path, &v1).await.status, 202);
    let r = post_json(a, &path, &container("v1", json!({"847632": "changed"}))).await;
    assert_error(
        &r,
        400,
        "Cannot update lookup [realtime_customer1]:[site_id_customer1] with version [v1] lower than or same as existing version [v1]",
    );
    assert_eq!(r.json()["error"], "Invalid input");
    assert_eq!(get(a, &path).await.json(), v1);

    // Lookups of the __default tier are what SQL reads.
    let rows = sql(
        a,
        "SELECT LOOKUP('77483', 'country_code') AS c, LOOKUP('1', 'country_code', 'none') AS d",
    )
    .await;
    assert_eq!(rows, json!([{"c": "United States", "d": "none"}]));
    let rows = sql(a, "SELECT k, v FROM lookup.site_id_customer2").await;
    assert_eq!(rows, json!([{"k": "AHF77", "v": "Home"}]));
    let post = post_json(
        a,
        &format!("{L}/config/__default/country_code"),
        &container("v2", json!({"77483": "USA"})),
    )
    .await;
    assert_eq!(post.status, 202);
    let rows = sql(a, "SELECT LOOKUP('77483', 'country_code') AS c").await;
    assert_eq!(rows, json!([{"c": "USA"}]));

    // Status: every lookup is loaded.
    let r = get(a, &format!("{L}/status/__default/country_code")).await;
    assert_eq!((r.status, r.json()), (200, json!({"loaded": true})));
    let r = get(a, &format!("{L}/status/realtime_customer2")).await;
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"country_code": {"loaded": true}, "site_id_customer2": {"loaded": true}})
        )
    );

    // Deleting a lookup, then a tier; missing ones are 404 with Druid's error body.
    assert_eq!(delete(a, &path).await.status, 202);
    assert_error(&delete(a, &path).await, 404, "lookup [site_id_customer1] is not found");
    assert_error(&get(a, &path).await, 404, "lookup [site_id_customer1] not found");
    assert_eq!(delete(a, &format!("{L}/config/realtime_customer2")).await.status, 202);
    assert_error(
        &get(a, &format!("{L}/config/realtime_customer2")).await,
        404,
        "Tier [realtime_customer2] not found",
    );
    assert_error(
        &delete(a, &format!("{L}/config/realtime_customer2")).await,
        404,
        "tier [realtime_customer2] is not found.",
    );
    let r = get(a, &format!("{L}/config")).await;
    assert_eq!(r.json(), json!(["__default", "realtime_customer1"]));
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT LOOKUP('x', 'site_id_customer9')"}),
    )
    .await;
    assert_error(&r, 400, "Lookup [site_id_customer9] not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_lookup_requests_get_4xx() {
    let t = engine();
    let srv = start_server(Overlord::open_local(t.dir.path()).unwrap(), 2, 64 << 10, None).await;
    let a = srv.addr.as_str();
    let ok = container("v0", json!({"k": "v"}));
    let json_ct = [("Content-Type", "application/json")];

    // Names breaking Druid's id rules, as they arrive percent-encoded in the path.
    for (name, needle) in [
        ("..%2Fx", "cannot start with '.'"),
        ("a%2Fb", "cannot contain '/'"),
        (".hidden", "cannot start with '.'"),
        ("a%09b", "illegal whitespace"),
    ] {
        let r = post_json(a, &format!("{L}/config/__default/{name}"), &ok).await;
        assert_error(&r, 400, needle);
        assert_error(&get(a, &format!("{L}/config/__default/{name}")).await, 400, needle);
        assert_error(&delete(a, &format!("{L}/config/{name}")).await, 400, needle);
        let r = post_json(
            a,
            &format!("{L}/config"),
            &json!({"__default": {name.replace("%2F", "/").replace("%09", "\t"): ok}}),
        )
        .await;
        assert_error(&r, 400, needle);
    }
    let long = "x".repeat(300);
    assert_error(
        &post_json(a, &format!("{L}/config/__default/{long}"), &ok).await,
        400,
        "bytes long",
    );
    // An unencoded `/` is another path: no route.
    assert_eq!(
        post_json(a, &format!("{L}/config/__default/../x"), &ok).await.status,
        404
    );

    // Bodies of the wrong shape or type.
    let bad_bodies = [
        (json!([]), "must be a JSON object of tiers"),
        (
            json!({"__default": []}),
            "tier [__default] must be a JSON object of lookups",
        ),
        (json!({"__default": {"x": 5}}), "must be a JSON object"),
        (
            json!({"__default": {"x": {"version": 1, "lookupExtractorFactory": {"type": "map", "map": {}}}}}),
            "[version] must be a string",
        ),
        (
            json!({"__default": {"x": {"lookupExtractorFactory": {"type": "map", "map": {}}}}}),
            "requires a [version]",
        ),
        (
            json!({"__default": {"x": {"version": "v"}}}),
            "requires a [lookupExtractorFactory]",
        ),
        (
            json!({"__default": {"x": {"version": "v", "lookupExtractorFactory": "map"}}}),
            "must be a JSON object",
        ),
        (
            json!({"__default": {"x": {"version": "v", "lookupExtractorFactory": {"map": {}}}}}),
            "requires a string [type]",
        ),
        (
            json!({"__default": {"x": container("v", json!(["a"]))}}),
            "must be a JSON object of strings",
        ),
        (
            json!({"__default": {"x": container("v", json!({"a": {"b": 1}}))}}),
            "value of key [a] must be a string",
        ),
        (
            json!({"__default": {"x": container("v", json!({"a": null}))}}),
            "value of key [a] must be a string",
        ),
        (
            json!({"__default": {"x": {"version": "v", "lookupExtractorFactory": {"type": "map", "map": {}, "injective": "yes"}}}}),
            "[injective] must be a boolean",
        ),
    ];
    for (body, needle) in bad_bodies {
        assert_error(&post_json(a, &format!("{L}/config"), &body).await, 400, needle);
    }
    let r = post_json(
        a,
        &format!("{L}/config/__default/x"),
        &json!({"version": "v", "lookupExtractorFactory": {"type": "map", "map": 7}}),
    )
    .await;
    assert_error(&r, 400, "must be a JSON object of strings");

    // Not JSON, not declared JSON, too large.
    let r = request(a, "POST", &format!("{L}/config"), &json_ct, Some("{not json")).await;
    assert_error(&r, 400, "");
    let r = request(a, "POST", &format!("{L}/config"), &[], Some("{}")).await;
    assert_error(&r, 415, "");
    let big = json!({"__default": {"big": container("v", json!({"k": "v".repeat(100_000)}))}}).to_string();
    let r = request(a, "POST", &format!("{L}/config"), &json_ct, Some(&big)).await;
    assert_error(&r, 413, "");
    assert_eq!(r.json()["error"], "Request too large");

    // Nothing of it was written.
    let r = get(a, &format!("{L}/config/all")).await;
    assert_eq!((r.status, r.json()), (200, json!({})));
}

/// The wikipedia sample's rows per language through the suite's lookups file, computed from
/// the raw files.
fn independent_languages() -> Vec<Vec<Value>> {
    let config: Value = serde_json::from_str(&std::fs::read_to_string(testdata("lookups-wiki.json")).unwrap()).unwrap();
    let map = config["__default"]["channel_language"]["lookupExtractorFactory"]["map"].clone();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in wiki_rows() {
        let lang = map
            .get(r["channel"].as_str().unwrap())
            .and_then(Value::as_str)
            .unwrap_or("Other");
        *counts.entry(lang.to_string()).or_default() += 1;
    }
    counts.into_iter().map(|(k, v)| vec![json!(k), json!(v)]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_and_table_functions_run_on_worker_processes() {
    let t = process_engine().await;
    let e = &t.engine;
    msq_controller::lookups::load_lookups_file(e.metadata.as_ref(), &testdata("lookups-wiki.json")).unwrap();
    let context = json!({"maxNumTasks": 3});
    run_ok(e, &insert_wikipedia_sql("wikipedia"), context.clone()).await;

    let rows = select(
        e,
        "SELECT LOOKUP(channel, 'channel_language', 'Other') AS lang, COUNT(*) FROM wikipedia GROUP BY 1 ORDER BY 1",
        context.clone(),
    )
    .await;
    assert_eq!(rows, independent_languages());
    let rows = select(
        e,
        "SELECT l.v, COUNT(*) FROM wikipedia w JOIN lookup.channel_language l ON w.channel = l.k WHERE l.v = 'German' GROUP BY 1",
        context.clone(),
    )
    .await;
    let german = wiki_rows().iter().filter(|r| r["channel"] == "#de.wikipedia").count();
    assert_eq!(rows, vec![vec![json!("German"), json!(german)]]);
    let rows = select(
        e,
        "SELECT COUNT(*) FROM TABLE(APPEND('wikipedia', 'wikipedia'))",
        context.clone(),
    )
    .await;
    assert_eq!(rows, vec![vec![json!(2 * wiki_rows().len())]]);
    let rows = select(
        e,
        "SELECT x, y FROM TABLE(INLINE(data => ARRAY['a,1', 'b,2'], format => 'csv')) EXTEND (x VARCHAR, y BIGINT) ORDER BY x",
        context,
    )
    .await;
    assert_eq!(rows, vec![vec![json!("a"), json!(1)], vec![json!("b"), json!(2)]]);
}

#[test]
fn msq_run_loads_a_lookups_file() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT LOOKUP('#de.wikipedia', 'channel_language') AS lang, v FROM lookup.channel_language WHERE k = '#fr.wikipedia'";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--format", "csv", "--sql", sql, "--lookups"])
        .arg(testdata("lookups-wiki.json"))
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lang,v\nGerman,French\n");
    // A file that is not Druid's config shape is refused before anything runs.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"__default": {"x": {"version": 1}}}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--sql", "SELECT 1", "--lookups"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[version] must be a string"));
}

/// Serves `body` at `/wiki.json.gz` to requests with basic auth `bob:pw` (401 otherwise).
fn serve_with_auth(body: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let want = common::http::basic_auth("bob", "pw");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut auth = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = Some(v.trim().to_string());
                    }
                }
            }
            let mut out = Vec::new();
            if request_line.starts_with("GET /wiki.json.gz ") && auth.as_deref() == Some(want.as_str()) {
                out.extend(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).bytes());
                out.extend(&body);
            } else {
                out.extend(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
            }
            let _ = conn.write_all(&out);
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_table_function_reads_with_basic_auth() {
    let base = serve_with_auth(std::fs::read(wiki_path()).unwrap());
    let t = engine();
    let rows = wiki_rows();
    let added: i64 = rows.iter().map(|r| r["added"].as_i64().unwrap()).sum();
    let sql = format!(
        "SELECT COUNT(*), SUM(added) FROM TABLE(HTTP(uris => ARRAY['{base}/wiki.json.gz'], userName => 'bob', password => 'pw', format => 'json')) EXTEND (channel VARCHAR, added BIGINT)"
    );
    let got = select(&t.engine, &sql, json!({"maxNumTasks": 2})).await;
    assert_eq!(got, vec![vec![json!(rows.len()), json!(added)]]);
    // Without the password the server refuses, and so does the query.
    let sql = format!(
        "SELECT COUNT(*) FROM TABLE(HTTP(uris => ARRAY['{base}/wiki.json.gz'], format => 'json')) EXTEND (channel VARCHAR)"
    );
    let (_, res, _) = t.engine.run_statement(&sql, &ctx(json!({}))).await;
    assert!(res.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_api_requires_credentials_when_auth_is_on() {
    let t = engine();
    let creds = msq_controller::druid_api::Credentials::parse("bob:pw\n").unwrap();
    let srv = start_server(Overlord::open_local(t.dir.path()).unwrap(), 2, 1 << 20, Some(creds)).await;
    let a = srv.addr.as_str();
    let r = get(a, &format!("{L}/config")).await;
    assert_error(&r, 401, "Authentication required");
    let r = post_json(a, &format!("{L}/config"), &json!({})).await;
    assert_eq!(r.status, 401);
    let auth = common::http::basic_auth("bob", "pw");
    let r = request(
        a,
        "GET",
        &format!("{L}/config"),
        &[("Authorization", auth.as_str())],
        None,
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!([])));
}
