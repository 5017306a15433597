//! The `s3` input source: spec parsing and validation (pure).

use super::*;
use crate::input::{InputSource, InputSplit, SplitKind};
use serde_json::json;

fn parse(v: Value) -> Result<InputSource> {
    InputSource::from_value(&v)
}

fn s3(v: Value) -> S3InputSource {
    match parse(v).unwrap() {
        InputSource::S3(s) => *s,
        other => panic!("not s3: {other:?}"),
    }
}

fn validation_message(v: Value) -> String {
    match parse(v) {
        Err(MsqError::Validation(m)) => m,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn specs_parse_and_print_back_as_druid_writes_them() {
    let spec = json!({
        "type": "s3",
        "uris": ["s3://foo/bar/file.json", "s3://bar/foo/file2.json"],
        "objectGlob": "**.json",
        "properties": {"accessKeyId": "KLJ78979SDFdS2", "secretAccessKey": {"type": "default", "password": "s3cr3t"}}
    });
    let src = parse(spec.clone()).unwrap();
    assert_eq!(src.type_name(), "s3");
    let printed = serde_json::to_value(&src).unwrap();
    assert_eq!(printed["type"], "s3");
    assert_eq!(printed["uris"], spec["uris"]);
    assert_eq!(printed["objectGlob"], "**.json");
    assert_eq!(
        printed["properties"]["accessKeyId"],
        json!({"type": "default", "password": "KLJ78979SDFdS2"})
    );
    assert!(printed.get("prefixes").is_none() && printed.get("objects").is_none());
    let objects = s3(json!({"type": "s3", "objects": [{"bucket": "foo", "path": "/bar/file1.json"}]}));
    assert_eq!(
        objects.targets().unwrap(),
        Targets::Objects(vec![CloudObjectLocation {
            bucket: "foo".into(),
            path: "bar/file1.json".into()
        }])
    );
}

#[test]
fn uris_split_into_bucket_and_decoded_key() {
    assert_eq!(
        parse_s3_uri("s3://foo/bar/a%20b.json?versionId=1").unwrap(),
        CloudObjectLocation {
            bucket: "foo".into(),
            path: "bar/a b.json".into()
        }
    );
    assert_eq!(parse_s3_uri("S3://foo").unwrap().path, "");
    assert_eq!(
        parse_s3_uri("gs://foo/x").unwrap_err().to_string(),
        MsqError::Validation("Invalid URI scheme [gs://foo/x] must be [s3]".into()).to_string()
    );
    assert!(parse_s3_uri("s3://foo/%zz").is_err());
    assert!(parse_s3_uri("s3://Bad Bucket/x").is_err());
}

#[test]
fn druid_validation_rules() {
    let exactly_one = "Exactly one of uris, prefixes or objects must be specified";
    assert_eq!(validation_message(json!({"type": "s3"})), exactly_one);
    assert_eq!(validation_message(json!({"type": "s3", "uris": []})), exactly_one);
    assert_eq!(
        validation_message(json!({"type": "s3", "uris": ["s3://a/b"], "prefixes": ["s3://a/"]})),
        exactly_one
    );
    assert_eq!(
        validation_message(json!({"type": "s3", "objects": [{"bucket": "a", "path": "b"}], "uris": ["s3://a/b"]})),
        exactly_one
    );
    assert_eq!(
        validation_message(json!({"type": "s3", "prefixes": ["http://a/b"]})),
        "Invalid URI scheme [http://a/b] must be [s3]"
    );
    assert_eq!(
        validation_message(json!({"type": "s3", "uris": ["s3://a/b"], "properties": {"accessKeyId": "x"}})),
        "secretAccessKey cannot be null if accessKeyId is given"
    );
    assert_eq!(
        validation_message(json!({"type": "s3", "uris": ["s3://a/b"], "properties": {"secretAccessKey": "x"}})),
        "accessKeyId cannot be null if secretAccessKey is given"
    );
    assert!(
        validation_message(json!({"type": "s3", "uris": ["s3://a/b"], "objectGlob": "[x"}))
            .starts_with("Invalid objectGlob [[x]")
    );
    assert!(validation_message(
        json!({"type": "s3", "uris": ["s3://a/b"], "properties": {"assumeRoleArn": "arn:aws:iam::1:role/r"}})
    )
    .contains("assumeRoleArn is not supported"));
    assert!(
        validation_message(json!({"type": "s3", "uris": ["s3://a/b"], "proxyConfig": {"host": "p"}}))
            .contains("proxyConfig is not supported")
    );
    assert!(validation_message(json!({"type": "s3", "objects": [{"bucket": "a"}]})).contains("Invalid s3 inputSource"));
}

#[test]
fn connection_settings_from_properties_and_endpoint_config() {
    let opts = |v: Value| -> Vec<(String, String)> { s3(v).connection_options().unwrap() };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert!(opts(json!({"type": "s3", "uris": ["s3://a/b"]})).is_empty());
    assert_eq!(
        opts(json!({"type": "s3", "uris": ["s3://a/b"], "properties": {
            "accessKeyId": "id", "secretAccessKey": "sk", "endpointUrl": "http://127.0.0.1:9000",
            "endpointSigningRegion": "eu-west-1"}})),
        vec![
            pair("aws_access_key_id", "id"),
            pair("aws_secret_access_key", "sk"),
            pair("aws_region", "eu-west-1"),
            pair("aws_endpoint", "http://127.0.0.1:9000"),
        ]
    );
    assert_eq!(
        opts(json!({"type": "s3", "uris": ["s3://a/b"],
            "endpointConfig": {"url": "s3-store.example.com", "signingRegion": "us-west-2"},
            "clientConfig": {"protocol": "http", "enablePathStyleAccess": true}})),
        vec![
            pair("aws_region", "us-west-2"),
            pair("aws_endpoint", "http://s3-store.example.com"),
            pair("aws_allow_http", "true"),
            pair("aws_virtual_hosted_style_request", "false"),
        ]
    );
    // An environment password provider is read when the splits are made.
    let err = s3(json!({"type": "s3", "uris": ["s3://a/b"], "properties": {
        "accessKeyId": {"type": "environment", "variable": "MSQ_TEST_NO_SUCH_VARIABLE"}, "secretAccessKey": "x"}}))
    .connection_options()
    .unwrap_err();
    assert!(matches!(err, MsqError::InputSource { .. }), "{err:?}");
}

#[test]
fn splits_describe_themselves_as_s3_uris() {
    let split = InputSplit {
        kind: SplitKind::S3 {
            bucket: "b".into(),
            key: "dir/wiki.json.gz".into(),
            size: 42,
            options: vec![],
        },
    };
    assert_eq!(split.size_bytes(), 42);
    assert_eq!(split.describe(), "s3://b/dir/wiki.json.gz");
    assert_eq!(split.uri().as_deref(), Some("s3://b/dir/wiki.json.gz"));
    let back: InputSplit = serde_json::from_value(serde_json::to_value(&split).unwrap()).unwrap();
    assert_eq!(back, split);
}
