//! `entitle serve`: the engine as a JSON-over-HTTP decision service
//! (docs/api.md, docs/openapi.yaml).
//!
//! [`Service`] is the whole service without the network: it routes a
//! method, a path, an `Authorization` header and a body to an answer
//! ([`Service::handle`]), counts it ([`metrics`]), and swaps the loaded
//! definitions atomically on reload, keeping the old ones when the new ones
//! do not load. [`http`] puts it on a socket (hyper on tokio) with the size,
//! time and connection bounds, signals and graceful shutdown.
//!
//! It never writes anything to disk, never answers with a verdict of its
//! own (every decision is the engine's, as in the CLI, with the same plan
//! guards), and never panics on a request: bad input is a JSON error
//! `{"error": {"code", "message"}}`.

pub mod api;
pub mod http;
pub mod metrics;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant as Clock;

use serde::Serialize;
use serde_json::{json, Value};

use crate::diag::{Diagnostic, Severity};
use crate::eval::Engine;
use crate::io::feed_kind::{misplaced, FeedKind};
use crate::io::identities::parse_identities;
use crate::io::live::{parse_live, LiveFile};
use crate::io::{read_bounded, InputError, ReadBudget};
use crate::plan::policy_sha256;
use crate::population::Population;
use crate::project::Project;

/// What the service serves and how.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The YAML definitions.
    pub roles: PathBuf,
    /// The Cedar guardrails (`None`: none, said explicitly).
    pub policies: Option<PathBuf>,
    /// The bearer token every request but `/healthz` and `/readyz` must carry, when set.
    pub token: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The longest a request may take, body reading included.
    pub request_timeout: std::time::Duration,
    /// The identity feed `GET /v1/who/...` answers from (`--identities`), read at start and on reload.
    pub identities: Option<PathBuf>,
    /// Live state (`--live`, one file per application), read at start and on reload: `who` then says
    /// who holds it and whether they should.
    pub live: Vec<PathBuf>,
    /// The application of SCIM group exports among `live` (`--app`).
    pub app: Option<String>,
    /// The HTTP runtime's worker threads (`None`: one per core).
    pub workers: Option<usize>,
}

impl ServeConfig {
    /// Serves `roles` (and `policies`) with the defaults: no token, [`DEFAULT_MAX_BODY_BYTES`],
    /// 30 s per request, no identity feed and no live state.
    pub fn new(roles: PathBuf, policies: Option<PathBuf>) -> ServeConfig {
        ServeConfig {
            roles,
            policies,
            token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: std::time::Duration::from_secs(30),
            identities: None,
            live: Vec::new(),
            app: None,
            workers: None,
        }
    }
}

/// The default largest request body: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Loaded definitions with their engine, and the feeds `who` answers from: what a request is
/// answered with. Loaded whole or not at all.
pub struct Loaded {
    /// The project.
    pub project: Arc<Project>,
    /// The fast engine over it.
    pub engine: Engine,
    /// The SHA-256 of its compiled policy set (as in plan output).
    pub policy_sha256: String,
    /// The population of `--identities`, when given.
    pub population: Option<Population>,
    /// The live state of `--live`, when given.
    pub live: Option<Vec<LiveFile>>,
    /// The catalog's names as JSON strings, for `desired` answers.
    pub json_names: api::JsonNames,
}

impl Loaded {
    /// Loads, compiles and checks the definitions, then reads the identity feed and live state
    /// against them as the CLI reads them; every diagnostic when any of it fails.
    pub fn load(config: &ServeConfig) -> Result<Loaded, Vec<Diagnostic>> {
        let roles = config.roles.as_path();
        let project = Arc::new(Project::load(roles, config.policies.as_deref()).map_err(|f| f.diagnostics)?);
        let engine = Engine::new(project.clone()).map_err(|e| {
            vec![Diagnostic::new(
                crate::diag::Code::Io,
                crate::diag::Location::new(roles.display().to_string(), 0, 0),
                format!("the engine could not be built: {e}"),
            )]
        })?;
        let (population, live) = read_feeds(config, &project)?;
        Ok(Loaded {
            policy_sha256: policy_sha256(&project),
            json_names: api::JsonNames::new(project.catalog()),
            project,
            engine,
            population,
            live,
        })
    }
}

/// The population of `--identities` and the live files of `--live`, each when given.
type Feeds = (Option<Population>, Option<Vec<LiveFile>>);

/// The identity feed and live files of `config`, read within one [`ReadBudget`] exactly as the
/// CLI reads them (a live export given as identities, or the reverse, is refused; a feed that
/// cannot be read through is an error, never a shorter population); every failure as a diagnostic.
fn read_feeds(config: &ServeConfig, project: &Project) -> Result<Feeds, Vec<Diagnostic>> {
    let budget = ReadBudget::per_run();
    let mut failures = Vec::new();
    let mut read = |path: &std::path::Path, kind: FeedKind| -> Option<(String, Vec<u8>)> {
        if path == std::path::Path::new("-") {
            failures.push(Diagnostic::new(
                crate::diag::Code::Io,
                crate::diag::Location::new("<stdin>", 0, 0),
                "the service re-reads its feeds on reload, so a feed must be a file, not `-` (standard input)",
            ));
            return None;
        }
        match read_bounded(path, &budget) {
            Err(e) => {
                failures.push(input_diagnostic(&e));
                None
            }
            Ok((file, bytes)) => match misplaced(&file, &bytes, kind) {
                Some(m) => {
                    failures
                        .push(Diagnostic::new(crate::diag::Code::Io, crate::diag::Location::new(file, 0, 0), m.message).with_help(m.help));
                    None
                }
                None => Some((file, bytes)),
            },
        }
    };
    let feed = config
        .identities
        .as_deref()
        .and_then(|path| read(path, FeedKind::Identities))
        .map(|(file, bytes)| parse_identities(&file, &bytes, None, &project.defs));
    let live: Vec<Result<LiveFile, InputError>> = config
        .live
        .iter()
        .filter_map(|path| read(path, FeedKind::Live))
        .map(|(file, bytes)| parse_live(&file, &bytes, None, config.app.as_deref()))
        .collect();
    let population = match feed {
        None => None,
        Some(Ok(feed)) => Some(Population::new(feed)),
        Some(Err(e)) => {
            failures.push(input_diagnostic(&e));
            None
        }
    };
    let mut files = Vec::with_capacity(live.len());
    for file in live {
        match file {
            Ok(f) => files.push(f),
            Err(e) => failures.push(input_diagnostic(&e)),
        }
    }
    if !failures.is_empty() {
        return Err(failures);
    }
    Ok((population, (!config.live.is_empty()).then_some(files)))
}

/// An unreadable feed as a diagnostic at its file and line.
fn input_diagnostic(e: &InputError) -> Diagnostic {
    Diagnostic::new(
        crate::diag::Code::Io,
        crate::diag::Location::new(e.file(), e.line().unwrap_or(0), 0),
        e.to_string(),
    )
}

/// An answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// The policy hash the answer was computed with (the `X-Entitle-Policy-Sha256` header).
    pub policy_sha256: String,
}

impl Reply {
    /// A JSON answer; `policy_sha256` is added to an object body.
    pub fn json(status: u16, mut body: Value, policy_sha256: &str) -> Reply {
        if let Some(object) = body.as_object_mut() {
            object.insert("policy_sha256".into(), policy_sha256.into());
        }
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            policy_sha256: policy_sha256.to_string(),
        }
    }

    /// A JSON answer serialised straight to bytes, with `policy_sha256` added as the last member
    /// of an object body: the bytes [`Reply::json`] gives for the same object, without building
    /// a JSON tree first.
    pub fn object<T: Serialize + ?Sized>(status: u16, body: &T, policy_sha256: &str) -> Reply {
        let mut bytes = Vec::with_capacity(512);
        match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => Reply::written(status, bytes, policy_sha256),
            Err(e) => Reply::error(500, "internal", format!("the answer could not be written: {e}"), policy_sha256),
        }
    }

    /// A JSON answer already written, with `policy_sha256` added as the last member of an object.
    fn written(status: u16, mut bytes: Vec<u8>, policy_sha256: &str) -> Reply {
        if bytes.last() == Some(&b'}') {
            bytes.pop();
            if bytes.len() > 1 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(b"\"policy_sha256\":");
            // A string always serialises.
            let _ = serde_json::to_writer(&mut bytes, policy_sha256);
            bytes.push(b'}');
        }
        Reply {
            status,
            content_type: "application/json",
            body: bytes,
            policy_sha256: policy_sha256.to_string(),
        }
    }

    /// An endpoint's answer (200), or its error.
    fn answer<T: Serialize>(result: Result<T, api::ApiError>, policy_sha256: &str) -> Reply {
        match result {
            Ok(body) => Reply::object(200, &body, policy_sha256),
            Err(e) => Reply::error(e.status, e.code, e.message, policy_sha256),
        }
    }

    /// A JSON error `{"error": {"code", "message"}}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>, policy_sha256: &str) -> Reply {
        Reply::json(status, json!({"error": {"code": code, "message": message.into()}}), policy_sha256)
    }
}

/// The decision service: loaded definitions, swapped atomically on reload, and metrics.
pub struct Service {
    config: ServeConfig,
    current: RwLock<Arc<Loaded>>,
    /// One reload at a time (two concurrent reloads would race to swap).
    reloading: Mutex<()>,
    /// The counters `/metrics` shows.
    pub metrics: metrics::Metrics,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("roles", &self.config.roles).finish_non_exhaustive()
    }
}

impl Service {
    /// Loads the definitions; a service never starts on definitions with errors.
    pub fn new(config: ServeConfig) -> Result<Service, Vec<Diagnostic>> {
        let loaded = Loaded::load(&config)?;
        Ok(Service {
            config,
            current: RwLock::new(Arc::new(loaded)),
            reloading: Mutex::new(()),
            metrics: metrics::Metrics::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// The definitions serving now.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads the definitions (and the identity feed and live state, when given) from disk and
    /// swaps them in when they all load cleanly; otherwise the old ones keep serving and the
    /// diagnostics are returned.
    pub fn reload(&self) -> Result<Arc<Loaded>, Vec<Diagnostic>> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let result = Loaded::load(&self.config);
        self.metrics.reload(result.is_ok());
        let loaded = Arc::new(result?);
        match self.current.write() {
            Ok(mut current) => *current = loaded.clone(),
            Err(poisoned) => *poisoned.into_inner() = loaded.clone(),
        }
        Ok(loaded)
    }

    /// Answers one request. `path` may carry a query (`/v1/who/x?as_of=2026-11-21`);
    /// `authorization` is the `Authorization` header, if any.
    pub fn handle(&self, method: &str, path: &str, authorization: Option<&str>, body: &[u8]) -> Reply {
        let started = Clock::now();
        let (endpoint, reply) = self.route(method, path, authorization, body);
        self.metrics.request(endpoint, reply.status, started.elapsed());
        reply
    }

    fn route(&self, method: &str, path: &str, authorization: Option<&str>, body: &[u8]) -> (&'static str, Reply) {
        let loaded = self.current();
        let hash = loaded.policy_sha256.as_str();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let endpoint: &'static str = match path {
            _ if path.starts_with("/v1/who/") => "who",
            "/healthz" => "healthz",
            "/readyz" => "readyz",
            "/metrics" => "metrics",
            "/v1/desired" => "desired",
            "/v1/explain" => "explain",
            "/v1/plan" => "plan",
            "/v1/whatif" => "whatif",
            "/v1/reload" => "reload",
            _ => {
                return (
                    "other",
                    Reply::error(404, "not-found", format!("no endpoint `{}`", crate::state::shown(path)), hash),
                )
            }
        };
        let expected = if matches!(endpoint, "healthz" | "readyz" | "metrics" | "who") {
            "GET"
        } else {
            "POST"
        };
        if method != expected {
            return (
                endpoint,
                Reply::error(
                    405,
                    "method-not-allowed",
                    format!("`{path}` answers `{expected}`, not `{}`", crate::state::shown(method)),
                    hash,
                ),
            );
        }
        if !matches!(endpoint, "healthz" | "readyz") && !self.authorized(authorization) {
            return (
                endpoint,
                Reply::error(401, "unauthorized", "a valid `Authorization: Bearer` token is required", hash),
            );
        }
        let reply = match endpoint {
            "healthz" => Reply::json(200, json!({"status": "ok"}), hash),
            "readyz" => Reply::json(200, json!({"status": "ready"}), hash),
            "metrics" => Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                body: self.metrics.render(hash).into_bytes(),
                policy_sha256: hash.to_string(),
            },
            "reload" => self.reload_reply(hash),
            "who" => Reply::answer(api::who(&loaded, &path["/v1/who/".len()..], query, &self.metrics), hash),
            _ => match serde_json::from_slice::<Value>(body) {
                Err(e) => Reply::error(400, "bad-json", format!("the body is not JSON: {e}"), hash),
                Ok(request) if !request.is_object() => Reply::error(400, "bad-request", "the body must be a JSON object", hash),
                Ok(request) => match endpoint {
                    "desired" => match api::desired(&loaded, &request, &self.metrics) {
                        Ok(answer) => {
                            let mut bytes = Vec::with_capacity(8 * 1024);
                            match answer.write(&loaded.json_names, &mut bytes) {
                                Ok(()) => Reply::written(200, bytes, hash),
                                Err(e) => Reply::error(500, "internal", format!("the answer could not be written: {e}"), hash),
                            }
                        }
                        Err(e) => Reply::error(e.status, e.code, e.message, hash),
                    },
                    "explain" => Reply::answer(api::explain(&loaded, &request, &self.metrics), hash),
                    "plan" => Reply::answer(api::plan(&loaded, &request, &self.metrics), hash),
                    _ => Reply::answer(api::whatif(&loaded, &request, &self.metrics), hash),
                },
            },
        };
        (endpoint, reply)
    }

    fn reload_reply(&self, old_hash: &str) -> Reply {
        match self.reload() {
            Ok(loaded) => Reply::json(
                200,
                json!({"reloaded": true, "previous_policy_sha256": old_hash}),
                &loaded.policy_sha256,
            ),
            Err(diagnostics) => {
                let errors: Vec<Value> = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(|d| {
                        json!({"code": d.code.to_string(), "message": d.message, "file": d.location.file,
                               "line": d.location.line, "column": d.location.column})
                    })
                    .collect();
                let first = errors
                    .first()
                    .and_then(|e| e["message"].as_str())
                    .unwrap_or("the definitions have errors")
                    .to_string();
                let mut reply = json!({"error": {"code": "reload-failed",
                    "message": format!("the definitions did not load, the previous policy keeps serving: {first}"),
                    "diagnostics": errors}});
                reply["reloaded"] = false.into();
                Reply::json(422, reply, &self.current().policy_sha256)
            }
        }
    }

    fn authorized(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.config.token else {
            return true;
        };
        let given = authorization.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
        // Compared in time independent of where they differ.
        given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        match Service::new(ServeConfig::new(root.join("roles"), Some(root.join("policies")))) {
            Ok(service) => service,
            Err(d) => panic!("{d:?}"),
        }
    }

    fn record(id: &str) -> Value {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let feed = std::fs::read_to_string(root.join("fixtures/identities.jsonl")).unwrap_or_default();
        feed.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["id"] == id)
            .unwrap_or(Value::Null)
    }

    /// The typed answers are written straight to bytes: the same bytes as the JSON tree of the
    /// same answer written with `policy_sha256` added (what the service answered before).
    #[test]
    fn answers_written_straight_to_bytes_equal_their_json_tree() {
        let service = service();
        let loaded = service.current();
        let nhi = record("svc-deploy");
        assert!(nhi.is_object(), "the example feed has `svc-deploy`");
        let requests = [
            json!({"identity": record("u-1001"), "as_of": "2026-11-21"}),
            json!({"identity": record("u-1001"), "as_of": "2026-11-21", "explain": true}),
            // A warning (the owner is not given), and an invalid record.
            json!({"identities": [nhi, {"id": "u-x", "kind": "person", "attributes": {"status": "actve"}}], "as_of": "2026-11-21"}),
        ];
        for request in requests {
            let answer = match api::desired(&loaded, &request, &service.metrics) {
                Ok(answer) => answer,
                Err(e) => panic!("{e:?}"),
            };
            let tree = Reply::json(200, serde_json::to_value(&answer).unwrap_or_default(), &loaded.policy_sha256);
            let direct = Reply::object(200, &answer, &loaded.policy_sha256);
            assert_eq!(
                String::from_utf8_lossy(&direct.body),
                String::from_utf8_lossy(&tree.body),
                "{request}"
            );
            // What the service answers: the summaries' names copied from the catalog's JSON.
            let served = service.handle("POST", "/v1/desired", None, request.to_string().as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&served.body),
                String::from_utf8_lossy(&tree.body),
                "{request}"
            );
        }
        assert!(String::from_utf8_lossy(&Reply::object(200, &json!({"a": 1}), "h").body) == r#"{"a":1,"policy_sha256":"h"}"#);
        assert!(String::from_utf8_lossy(&Reply::object(200, &json!({}), "h").body) == r#"{"policy_sha256":"h"}"#);
    }
}
