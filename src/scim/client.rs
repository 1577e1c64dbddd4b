//! The HTTP side of the SCIM connector: one blocking client with a bearer
//! token, bounded responses, and retries on 429 and 5xx that honour
//! `Retry-After`.
//!
//! It must never log or print the token, and never follow a redirect (a
//! redirect could carry the token to another host).

use std::time::Duration;

use serde_json::Value;

use super::ScimError;

/// The largest SCIM response read, in bytes (one page of a listing, one group).
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// How requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// The first back-off; doubled after each failed attempt.
    pub base_delay: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// A response: its status and its JSON body (`Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, parsed.
    pub body: Value,
    /// Attempts it took (1 when the first one answered).
    pub attempts: u32,
}

/// A SCIM service provider's base URL with its credentials.
pub struct ScimClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    retry: RetryPolicy,
    /// Called before each wait between attempts (tests shorten or count them).
    sleep: fn(Duration),
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("ScimClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .finish()
    }
}

impl ScimClient {
    /// A client for the service provider at `base` (`http://host:port/scim/v2`, no trailing
    /// slash needed). `https` needs the crate's `scim-tls` feature.
    pub fn new(base: &str, token: Option<String>) -> Result<ScimClient, ScimError> {
        let base = base.trim_end_matches('/').to_string();
        let scheme_ok = base.starts_with("http://") || base.starts_with("https://");
        if !scheme_ok {
            return Err(ScimError::Url(format!("`{base}` is not an http:// or https:// URL")));
        }
        if base.starts_with("https://") && !cfg!(feature = "scim-tls") {
            return Err(ScimError::Url(format!(
                "`{base}` is https, and this build has no TLS: build entitle with `--features scim-tls`"
            )));
        }
        if base.contains('@') {
            return Err(ScimError::Url(
                "credentials in the URL are refused: give the token in a file or an environment variable".into(),
            ));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Ok(ScimClient {
            base,
            token,
            agent: ureq::Agent::new_with_config(config),
            retry: RetryPolicy::default(),
            sleep: std::thread::sleep,
        })
    }

    /// The client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ScimClient {
        self.retry = retry;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path` (path with its query).
    pub fn get(&self, path: &str) -> Result<Reply, ScimError> {
        self.send("GET", path, None)
    }

    /// `PATCH base + path` with a PatchOp body.
    pub fn patch(&self, path: &str, body: &Value) -> Result<Reply, ScimError> {
        self.send("PATCH", path, Some(body))
    }

    /// `POST base + path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply, ScimError> {
        self.send("POST", path, Some(body))
    }

    /// Sends a request, retrying 429, 5xx and transport failures per the retry policy.
    /// Any other status is returned as it came, for the caller to judge.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, ScimError> {
        let url = format!("{}{path}", self.base);
        let payload = body.map(|b| b.to_string());
        let mut delay = self.retry.base_delay;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.once(method, &url, payload.as_deref());
            let (retryable, wait) = match &outcome {
                Ok((status, _, retry_after)) if *status == 429 || (500..600).contains(status) => (true, *retry_after),
                Ok(_) => (false, None),
                Err(ScimError::Transport { .. }) => (true, None),
                Err(_) => (false, None),
            };
            if !retryable || attempt >= self.retry.attempts {
                return match outcome {
                    Ok((status, body, _)) => Ok(Reply {
                        status,
                        body,
                        attempts: attempt,
                    }),
                    Err(e) => Err(e),
                };
            }
            (self.sleep)(wait.unwrap_or(delay).min(self.retry.max_delay));
            delay = (delay * 2).min(self.retry.max_delay);
        }
    }

    /// One attempt: status, JSON body, `Retry-After` in seconds.
    fn once(&self, method: &str, url: &str, payload: Option<&str>) -> Result<(u16, Value, Option<Duration>), ScimError> {
        let transport = |e: ureq::Error| ScimError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message: e.to_string(),
        };
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        macro_rules! with_headers {
            ($request:expr) => {{
                let mut request = $request.header("Accept", "application/scim+json, application/json");
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth.as_str());
                }
                request
            }};
        }
        let response = match (method, payload) {
            ("GET", _) => with_headers!(self.agent.get(url)).call(),
            ("PATCH", Some(body)) => with_headers!(self.agent.patch(url))
                .content_type("application/scim+json")
                .send(body),
            ("POST", Some(body)) => with_headers!(self.agent.post(url)).content_type("application/scim+json").send(body),
            _ => return Err(ScimError::Url(format!("unsupported request `{method} {url}`"))),
        };
        let mut response = response.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(transport)?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                // An error page from a proxy is not JSON: keep its first line as the message.
                Err(_) if status >= 400 => Value::String(text.lines().next().unwrap_or_default().chars().take(200).collect()),
                Err(e) => {
                    return Err(ScimError::Protocol(format!(
                        "`{method} {url}` answered {status} with a body that is not JSON: {e}"
                    )));
                }
            }
        };
        Ok((status, body, retry_after))
    }

    #[cfg(test)]
    pub(crate) fn with_sleep(mut self, sleep: fn(Duration)) -> ScimClient {
        self.sleep = sleep;
        self
    }
}

/// The message a SCIM error response carries (`detail`, RFC 7644 §3.12), or the body itself.
pub fn error_detail(reply: &Reply) -> String {
    let detail = reply
        .body
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| reply.body.as_str().map(str::to_string))
        .unwrap_or_else(|| reply.body.to_string());
    format!("status {}: {}", reply.status, crate::state::shown(&detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Mutex;

    static SLEPT: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

    fn record(d: Duration) {
        SLEPT.lock().unwrap().push(d);
    }

    /// A server answering each connection with the next of `answers` (status, extra headers).
    fn server(answers: Vec<(u16, &'static str)>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (status, headers) in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = if status == 200 {
                    r#"{"ok": true}"#
                } else {
                    r#"{"detail": "busy"}"#
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{address}")
    }

    #[test]
    fn retries_429_and_5xx_honouring_retry_after_then_gives_up() {
        let base = server(vec![(429, "Retry-After: 2\r\n"), (503, ""), (200, "")]);
        let client = ScimClient::new(&base, Some("t".into())).unwrap().with_sleep(record);
        SLEPT.lock().unwrap().clear();
        let reply = client.get("/Users").unwrap();
        assert_eq!((reply.status, reply.attempts), (200, 3));
        assert_eq!(reply.body["ok"], true);
        // Retry-After first, then the back-off (the first, 200 ms, doubles only after being used).
        assert_eq!(*SLEPT.lock().unwrap(), [Duration::from_secs(2), Duration::from_millis(400)]);

        let base = server(vec![(500, ""), (500, "")]);
        let client = ScimClient::new(&base, None).unwrap().with_sleep(|_| ()).with_retry(RetryPolicy {
            attempts: 2,
            ..RetryPolicy::default()
        });
        let reply = client.get("/Groups").unwrap();
        assert_eq!((reply.status, reply.attempts), (500, 2));
        assert_eq!(error_detail(&reply), "status 500: busy");
        // A 4xx other than 429 is not retried.
        let base = server(vec![(404, "")]);
        let reply = ScimClient::new(&base, None).unwrap().with_sleep(|_| ()).get("/Groups/x").unwrap();
        assert_eq!((reply.status, reply.attempts), (404, 1));
    }

    #[test]
    fn urls_that_cannot_be_used_are_refused_and_the_token_is_never_shown() {
        assert!(ScimClient::new("ftp://x", None).unwrap_err().to_string().contains("not an http"));
        assert!(ScimClient::new("http://user:pw@host/v2", None)
            .unwrap_err()
            .to_string()
            .contains("credentials"));
        if !cfg!(feature = "scim-tls") {
            assert!(ScimClient::new("https://host/v2", None)
                .unwrap_err()
                .to_string()
                .contains("scim-tls"));
        }
        let client = ScimClient::new("http://127.0.0.1:1/v2/", Some("sekrit".into())).unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:1/v2");
        assert!(!format!("{client:?}").contains("sekrit"));
    }
}
