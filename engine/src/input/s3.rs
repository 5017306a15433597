//! Druid's `s3` input source: objects of S3-compatible storage, read through `object_store`.
//!
//! `{"type":"s3","uris":["s3://bucket/a.json.gz"]}`, `{"type":"s3","prefixes":["s3://bucket/dir/"]}`
//! or `{"type":"s3","objects":[{"bucket":"b","path":"a.json"}]}` — exactly one of the three —
//! with an optional `objectGlob` on the object key and optional `properties`
//! (`accessKeyId`/`secretAccessKey` as password providers, `region`, `endpointUrl`,
//! `endpointSigningRegion`). `endpointConfig` (`url`, `signingRegion`) and `clientConfig`
//! (`protocol`, `enablePathStyleAccess`) are honoured too; settings not given come from the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, ...), as Druid falls back to its default credentials chain.
//!
//! `msq_rows::input::s3` lists and reads the objects. `assumeRoleArn` and `proxyConfig` are
//! refused: this build cannot honour them.

mod glob;

pub use glob::ObjectGlob;

use super::http::PasswordProvider;
use crate::error::{MsqError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"type":"s3", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct S3InputSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<CloudObjectLocation>>,
    #[serde(rename = "objectGlob", default, skip_serializing_if = "Option::is_none")]
    pub object_glob: Option<String>,
    /// `{"url": "host or URL", "signingRegion": "..."}`.
    #[serde(rename = "endpointConfig", default, skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<Value>,
    /// `{"protocol": "http"|"https", "enablePathStyleAccess": bool, ...}`.
    #[serde(rename = "clientConfig", default, skip_serializing_if = "Option::is_none")]
    pub client_config: Option<Value>,
    /// Not supported (refused when set).
    #[serde(rename = "proxyConfig", default, skip_serializing_if = "Option::is_none")]
    pub proxy_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<S3Properties>,
}

/// `{"bucket": "b", "path": "dir/file.json"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudObjectLocation {
    pub bucket: String,
    pub path: String,
}

/// The source's `properties`: credentials and connection overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct S3Properties {
    #[serde(rename = "accessKeyId", default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<PasswordProvider>,
    #[serde(rename = "secretAccessKey", default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<PasswordProvider>,
    /// Not supported (refused when set).
    #[serde(rename = "assumeRoleArn", default, skip_serializing_if = "Option::is_none")]
    pub assume_role_arn: Option<String>,
    #[serde(rename = "assumeRoleExternalId", default, skip_serializing_if = "Option::is_none")]
    pub assume_role_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(rename = "endpointUrl", default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(rename = "endpointSigningRegion", default, skip_serializing_if = "Option::is_none")]
    pub endpoint_signing_region: Option<String>,
}

/// What the source names: whole objects, or key prefixes to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    Objects(Vec<CloudObjectLocation>),
    Prefixes(Vec<CloudObjectLocation>),
}

/// `s3://bucket/a/b.json` → bucket `bucket`, path `a/b.json` (percent-decoded, without query
/// or fragment), as Java's `URI` gives host and path.
fn parse_s3_uri(uri: &str) -> Result<CloudObjectLocation> {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    if !scheme.eq_ignore_ascii_case("s3") {
        return Err(MsqError::Validation(format!("Invalid URI scheme [{uri}] must be [s3]")));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    location(bucket, &percent_decode(path, uri)?)
}

fn percent_decode(s: &str, uri: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| MsqError::Validation(format!("Invalid URI [{uri}]: bad escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| MsqError::Validation(format!("Invalid URI [{uri}]: not UTF-8")))
}

/// Druid's `CloudObjectLocation`: no trailing slash on the bucket, no leading slash on the
/// path, and a bucket name that needs no URL encoding.
fn location(bucket: &str, path: &str) -> Result<CloudObjectLocation> {
    let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
    let path = path.strip_prefix('/').unwrap_or(path);
    if bucket.is_empty()
        || !bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
    {
        return Err(MsqError::Validation(format!(
            "bucket [{bucket}] must follow DNS-compliant naming conventions"
        )));
    }
    Ok(CloudObjectLocation {
        bucket: bucket.to_string(),
        path: path.to_string(),
    })
}

fn non_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

fn json_str<'a>(v: &'a Option<Value>, key: &str) -> Option<&'a str> {
    v.as_ref().and_then(|o| o.get(key)).and_then(Value::as_str)
}

impl S3InputSource {
    /// Druid's checks: exactly one of `uris`, `prefixes`, `objects`; `s3://` URIs; valid
    /// bucket names, glob and credential pairs; nothing this build cannot honour.
    pub fn validate(&self) -> Result<()> {
        self.targets()?;
        if let Some(g) = self.glob_pattern() {
            ObjectGlob::new(g)?;
        }
        if self.proxy_config.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(MsqError::Validation(
                "proxyConfig is not supported by the s3 inputSource of this build".into(),
            ));
        }
        if let Some(p) = &self.properties {
            match (&p.access_key_id, &p.secret_access_key) {
                (Some(_), None) => {
                    return Err(MsqError::Validation(
                        "secretAccessKey cannot be null if accessKeyId is given".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(MsqError::Validation(
                        "accessKeyId cannot be null if secretAccessKey is given".into(),
                    ))
                }
                _ => {}
            }
            if p.assume_role_arn.is_some() {
                return Err(MsqError::Validation(
                    "assumeRoleArn is not supported by the s3 inputSource of this build".into(),
                ));
            }
        }
        Ok(())
    }

    /// The `objectGlob`, unless blank.
    pub fn glob_pattern(&self) -> Option<&str> {
        self.object_glob.as_deref().filter(|g| !g.trim().is_empty())
    }

    /// The objects or prefixes named, exactly one kind (Druid's rule).
    pub fn targets(&self) -> Result<Targets> {
        let exactly_one = || MsqError::Validation("Exactly one of uris, prefixes or objects must be specified".into());
        if non_empty(&self.objects) {
            if non_empty(&self.uris) || non_empty(&self.prefixes) {
                return Err(exactly_one());
            }
            let objects = self.objects.as_deref().unwrap_or_default();
            return Ok(Targets::Objects(
                objects
                    .iter()
                    .map(|o| location(&o.bucket, &o.path))
                    .collect::<Result<_>>()?,
            ));
        }
        if non_empty(&self.uris) {
            if non_empty(&self.prefixes) {
                return Err(exactly_one());
            }
            let uris = self.uris.as_deref().unwrap_or_default();
            return Ok(Targets::Objects(
                uris.iter().map(|u| parse_s3_uri(u)).collect::<Result<_>>()?,
            ));
        }
        if non_empty(&self.prefixes) {
            let prefixes = self.prefixes.as_deref().unwrap_or_default();
            return Ok(Targets::Prefixes(
                prefixes.iter().map(|u| parse_s3_uri(u)).collect::<Result<_>>()?,
            ));
        }
        Err(exactly_one())
    }

    /// The S3 client settings this source asks for (object_store `aws_*` keys), credentials
    /// resolved; what is not set here comes from the reading process's environment.
    pub fn connection_options(&self) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| out.push((k.to_string(), v));
        let props = self.properties.clone().unwrap_or_default();
        if let (Some(id), Some(secret)) = (&props.access_key_id, &props.secret_access_key) {
            set("aws_access_key_id", id.password()?);
            set("aws_secret_access_key", secret.password()?);
        }
        let region = props
            .region
            .clone()
            .or(props.endpoint_signing_region.clone())
            .or(json_str(&self.endpoint_config, "signingRegion").map(str::to_string));
        if let Some(r) = region {
            set("aws_region", r);
        }
        let protocol = json_str(&self.client_config, "protocol").map(str::to_ascii_lowercase);
        let endpoint = props
            .endpoint_url
            .clone()
            .or(json_str(&self.endpoint_config, "url").map(str::to_string));
        if let Some(e) = endpoint {
            let e = if e.contains("://") {
                e
            } else {
                format!("{}://{e}", protocol.as_deref().unwrap_or("https"))
            };
            set("aws_endpoint", e);
        }
        if protocol.as_deref() == Some("http") {
            set("aws_allow_http", "true".into());
        }
        if let Some(path_style) = self
            .client_config
            .as_ref()
            .and_then(|c| c.get("enablePathStyleAccess"))
            .and_then(Value::as_bool)
        {
            set("aws_virtual_hosted_style_request", (!path_style).to_string());
        }
        Ok(out)
    }
}

/// `s3://bucket/key`.
pub fn object_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

#[cfg(test)]
mod tests;
