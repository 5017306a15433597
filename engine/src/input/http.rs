//! Druid's `http` input source: `{"type":"http","uris":["http://host/a.json.gz"],
//! "httpAuthenticationUsername":"u","httpAuthenticationPassword":{"type":"default","password":"p"}}`.
//! Each URI is one split; `msq_rows::input::http` fetches them.

use crate::error::{MsqError, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Druid's password provider: a plain string, `{"type":"default","password":"..."}` or
/// `{"type":"environment","variable":"NAME"}`. Serialises in the object form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum PasswordProvider {
    #[serde(rename = "default")]
    Default { password: String },
    #[serde(rename = "environment")]
    Environment { variable: String },
}

impl<'de> Deserialize<'de> for PasswordProvider {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        let v = Value::deserialize(d)?;
        match &v {
            Value::String(s) => Ok(PasswordProvider::Default { password: s.clone() }),
            Value::Object(m) => {
                let field = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
                match m.get("type").and_then(Value::as_str).unwrap_or("default") {
                    "default" => Ok(PasswordProvider::Default {
                        password: field("password")
                            .ok_or_else(|| D::Error::custom("password provider needs 'password'"))?,
                    }),
                    "environment" => Ok(PasswordProvider::Environment {
                        variable: field("variable")
                            .ok_or_else(|| D::Error::custom("environment password provider needs 'variable'"))?,
                    }),
                    other => Err(D::Error::custom(format!(
                        "Unsupported password provider type [{other}]; supported types are [default, environment]"
                    ))),
                }
            }
            other => Err(D::Error::custom(format!("Invalid password provider [{other}]"))),
        }
    }
}

impl PasswordProvider {
    /// The password (read from the environment for `environment`).
    pub fn password(&self) -> Result<String> {
        match self {
            PasswordProvider::Default { password } => Ok(password.clone()),
            PasswordProvider::Environment { variable } => std::env::var(variable).map_err(|_| MsqError::InputSource {
                message: format!("Environment variable [{variable}] of the password provider is not set"),
            }),
        }
    }
}

/// `{"type":"http", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpInputSource {
    #[serde(default, deserialize_with = "null_as_default")]
    pub uris: Vec<String>,
    #[serde(
        rename = "httpAuthenticationUsername",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_authentication_username: Option<String>,
    #[serde(
        rename = "httpAuthenticationPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_authentication_password: Option<PasswordProvider>,
    /// Extra request headers sent with every request.
    #[serde(
        rename = "requestHeaders",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub request_headers: std::collections::BTreeMap<String, String>,
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl HttpInputSource {
    /// Druid's checks: at least one URI, each `http` or `https` (Druid's default allowed
    /// protocols). Whether each is a well-formed URL is checked by `msq_rows::input::http::check_fetchable`.
    pub fn validate(&self) -> Result<()> {
        if self.uris.is_empty() {
            return Err(MsqError::Validation("Empty URIs".into()));
        }
        for u in &self.uris {
            let scheme = u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if !matches!(scheme.as_deref(), Some("http") | Some("https")) {
                return Err(MsqError::Validation(format!(
                    "Only [http, https] protocols are allowed, got URI [{u}]"
                )));
            }
        }
        Ok(())
    }

    /// The `Authorization` header value, when a username is given.
    pub fn authorization(&self) -> Result<Option<String>> {
        let Some(user) = &self.http_authentication_username else {
            return Ok(None);
        };
        let password = match &self.http_authentication_password {
            Some(p) => p.password()?,
            None => String::new(),
        };
        Ok(Some(basic_auth(user, &password)))
    }
}

/// `Basic <base64(user:password)>`.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
