//! `entitle serve` over real HTTP on loopback: every endpoint, bearer
//! auth, size limits, hot reload with a broken push (the old policy keeps
//! serving), graceful shutdown — and every answer checked against
//! docs/openapi.yaml.
#![cfg(all(feature = "serve", feature = "cli"))]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::copy_dir;
use serde_json::{json, Value};

const TOKEN: &str = "serve-test-token";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running `entitle serve` over a copy of the example's definitions, stopped on drop.
struct Served {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Served {
    serve_with(&[], extra)
}

/// A service whose directory also holds `files` (its name there, the file copied from the repository).
fn serve_with(files: &[(&str, &str)], extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    for (name, from) in files {
        std::fs::copy(root().join(from), dir.path().join(name)).unwrap();
    }
    copy_dir(&root().join("roles"), &dir.path().join("roles"));
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file", "token"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
        .to_string();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    Served {
        child,
        base: format!("http://{address}"),
        dir,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build())
}

/// A request's status, `X-Entitle-Policy-Sha256` and body.
fn call(served: &Served, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> (u16, String, String) {
    let url = format!("{}{path}", served.base);
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a.as_str());
            }
            r.call()
        }
        (m, body) => {
            let mut r = if m == "POST" { agent.post(&url) } else { agent.put(&url) };
            if let Some(a) = &auth {
                r = r.header("Authorization", a.as_str());
            }
            r.content_type("application/json").send(body.unwrap_or(""))
        }
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let hash = response
        .headers()
        .get("x-entitle-policy-sha256")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, hash, response.body_mut().read_to_string().unwrap())
}

fn post(served: &Served, path: &str, body: &Value) -> (u16, Value) {
    let (status, hash, text) = call(served, "POST", path, Some(&body.to_string()), Some(TOKEN));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    assert_eq!(
        value["policy_sha256"],
        hash.as_str(),
        "the body and the header name the same policy"
    );
    check_openapi("post", path, status, &value);
    (status, value)
}

fn get(served: &Served, path: &str) -> (u16, Value) {
    let (status, hash, text) = call(served, "GET", path, None, Some(TOKEN));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    assert_eq!(
        value["policy_sha256"],
        hash.as_str(),
        "the body and the header name the same policy"
    );
    check_openapi("get", path, status, &value);
    (status, value)
}

/// Validates an answer against the schema docs/openapi.yaml gives for its path, method and status.
fn check_openapi(method: &str, path: &str, status: u16, body: &Value) {
    let text = std::fs::read_to_string(root().join("docs/openapi.yaml")).unwrap();
    let spec: Value = serde_yaml::from_str(&text).unwrap();
    let path = path.split('?').next().unwrap_or(path);
    let template = if path.starts_with("/v1/who/role/") {
        "/v1/who/role/{role}"
    } else if path.starts_with("/v1/who/package/") {
        "/v1/who/package/{package}"
    } else if path.starts_with("/v1/who/") {
        "/v1/who/{entitlement}"
    } else {
        path
    };
    let operation = &spec["paths"][template][method];
    assert!(operation.is_object(), "docs/openapi.yaml has no `{method} {template}`");
    let responses = &operation["responses"];
    let response = if responses[status.to_string()].is_object() {
        &responses[status.to_string()]
    } else {
        &responses["default"]
    };
    let response = match response["$ref"].as_str() {
        Some(r) => &spec["components"]["responses"][r.rsplit('/').next().unwrap()],
        None => response,
    };
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "docs/openapi.yaml gives no JSON schema for `{method} {template}` {status}"
    );
    let mut wrapper = schema.clone();
    wrapper["components"] = spec["components"].clone();
    let validator = jsonschema::validator_for(&wrapper).unwrap_or_else(|e| panic!("the schema of `{method} {template}` {status}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "`{method} {template}` {status} does not match docs/openapi.yaml: {errors:?}\n{body}"
    );
}

fn identity(id: &str) -> Value {
    let feed = std::fs::read_to_string(root().join("fixtures/identities.jsonl")).unwrap();
    feed.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no `{id}` in the example feed"))
}

fn feed() -> Vec<Value> {
    let feed = std::fs::read_to_string(root().join("fixtures/identities.jsonl")).unwrap();
    feed.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn cli_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().next().unwrap_or("null")).unwrap_or(Value::Null)
}

#[test]
fn every_endpoint_answers_as_the_cli_does_and_as_documented() {
    let served = serve(&[]);
    // desired: one identity, as `eval --format json` says of it.
    let (status, desired) = post(
        &served,
        "/v1/desired",
        &json!({"identity": identity("u-1001"), "as_of": "2026-11-21"}),
    );
    assert_eq!(status, 200, "{desired}");
    let single = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(single.path(), identity("u-1001").to_string()).unwrap();
    let eval = cli_json(&[
        "eval",
        "--identity",
        single.path().to_str().unwrap(),
        "--as-of",
        "2026-11-21",
        "--format",
        "json",
    ]);
    assert_eq!(desired["results"][0], eval);
    // A batch with explanations, and a non-human identity whose owner is given.
    let nhi = feed().into_iter().find(|v| v["owner"].is_string()).unwrap();
    let owner = identity(nhi["owner"].as_str().unwrap());
    let (status, batch) = post(
        &served,
        "/v1/desired",
        &json!({"identities": [identity("u-1001"), nhi], "owners": [owner], "explain": true, "as_of": "2026-11-21"}),
    );
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["results"].as_array().unwrap().len(), 2);
    assert!(batch["results"][0]["because"].is_object(), "{batch}");
    assert!(batch["results"][1].get("warning").is_none(), "the owner was given: {batch}");
    // An invalid record is a result, not a failure of the request.
    let (status, invalid) = post(
        &served,
        "/v1/desired",
        &json!({"identity": {"id": "u-x", "kind": "person", "attributes": {"status": "actve"}}}),
    );
    assert_eq!(status, 200);
    assert_eq!(invalid["results"][0]["valid"], false, "{invalid}");

    // explain
    let (status, explained) = post(
        &served,
        "/v1/explain",
        &json!({"identity": identity("u-1001"), "entitlement": "github:org-member", "as_of": "2026-11-21"}),
    );
    assert_eq!(status, 200, "{explained}");
    assert_eq!(
        (explained["holds"].clone(), explained["verdict"].clone()),
        (json!(true), json!("holds"))
    );
    let (status, unknown) = post(
        &served,
        "/v1/explain",
        &json!({"identity": identity("u-1001"), "entitlement": "github:org-membr"}),
    );
    assert_eq!(status, 422);
    assert_eq!(unknown["error"]["code"], "unknown-entitlement");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `github:org-member`"),
        "{unknown}"
    );

    // plan: the same plan as the CLI over the same records (the inputs' hashes aside: the request is not the file).
    let live: Vec<Value> = std::fs::read_to_string(root().join("fixtures/live.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (status, mut plan) = post(
        &served,
        "/v1/plan",
        &json!({"identities": feed(), "live": live, "as_of": "2026-11-21"}),
    );
    assert_eq!(status, 200, "{plan}");
    let mut cli_plan: Value = {
        let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
            .current_dir(root())
            .args([
                "plan",
                "--identities",
                "fixtures/identities.jsonl",
                "--live",
                "fixtures/live.jsonl",
                "--as-of",
                "2026-11-21",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for p in [&mut plan, &mut cli_plan] {
        let object = p.as_object_mut().unwrap();
        object.remove("inputs");
        object.remove("policy_sha256");
        object.remove("guards");
        for invalid in object
            .get_mut("invalid_identities")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            invalid.as_object_mut().unwrap().remove("file");
        }
    }
    assert_eq!(plan["changes"], cli_plan["changes"]);
    assert_eq!(plan["summary"], cli_plan["summary"]);
    // The guards are the CLI's.
    let (status, refused) = post(
        &served,
        "/v1/plan",
        &json!({"identities": feed(), "live": live, "as_of": "2026-11-21", "max_revokes": 1}),
    );
    assert_eq!(status, 200);
    assert!(refused["refused"].is_string() && refused["changes"] == json!([]), "{refused}");

    // whatif: a mover.
    let (status, whatif) = post(
        &served,
        "/v1/whatif",
        &json!({"identities": feed(), "set": ["u-1001.department=Finance"], "as_of": "2026-11-21"}),
    );
    assert_eq!(status, 200, "{whatif}");
    let mover = whatif["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == "u-1001")
        .expect("the mover changes");
    assert!(mover["gained"].as_array().unwrap().contains(&json!("netsuite:viewer")), "{mover}");
    // The service account they own loses what depended on its owner's department.
    assert!(
        whatif["changes"].as_array().unwrap().iter().any(|c| c["identity"] == "svc-deploy"),
        "{whatif}"
    );
    let (status, nothing) = post(&served, "/v1/whatif", &json!({"identities": feed()}));
    assert_eq!((status, nothing["error"]["code"].clone()), (422, json!("invalid-request")));

    // who: this service was started without `--identities`.
    let (status, none) = get(&served, "/v1/who/github:org-member");
    assert_eq!((status, none["error"]["code"].clone()), (409, json!("no-identities")), "{none}");
    assert!(none["error"]["message"].as_str().unwrap().contains("--identities FILE"), "{none}");

    // health, readiness, metrics
    for path in ["/healthz", "/readyz"] {
        let (status, _, text) = call(&served, "GET", path, None, None);
        assert_eq!(status, 200, "{path} needs no token");
        check_openapi("get", path, status, &serde_json::from_str(&text).unwrap());
    }
    let (status, hash, metrics) = call(&served, "GET", "/metrics", None, Some(TOKEN));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("entitle_requests_total{endpoint=\"desired\",status=\"200\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("entitle_policy_info{{policy_sha256=\"{hash}\"}} 1")),
        "{metrics}"
    );
    assert!(
        metrics.contains("entitle_request_duration_seconds_count{endpoint=\"plan\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("entitle_decisions_total "), "{metrics}");
}

#[test]
fn bad_requests_get_a_json_error_and_auth_and_size_are_enforced() {
    let served = serve(&["--max-body", "20000"]);
    let one = json!({"identity": identity("u-1001")}).to_string();
    for token in [None, Some("wrong-token")] {
        let (status, _, text) = call(&served, "POST", "/v1/desired", Some(&one), token);
        assert_eq!(status, 401, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        check_openapi("post", "/v1/desired", status, &body);
    }
    let (status, _, _) = call(&served, "GET", "/metrics", None, None);
    assert_eq!(status, 401);
    // Too large: refused before evaluation.
    let big = json!({"identities": vec![identity("u-1001"); 200]}).to_string();
    assert!(big.len() > 20000);
    let (status, _, text) = call(&served, "POST", "/v1/desired", Some(&big), Some(TOKEN));
    assert_eq!(status, 413, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "payload-too-large");
    check_openapi("post", "/v1/desired", status, &body);
    // Not JSON, not an object, unknown members, wrong method, unknown path.
    for (body, code) in [
        ("{not json", "bad-json"),
        ("[1]", "bad-request"),
        ("{\"identitiez\": []}", "invalid-request"),
    ] {
        let (status, _, text) = call(&served, "POST", "/v1/desired", Some(body), Some(TOKEN));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["error"]["code"], code, "{body}: {text}");
        assert!(status == 400 || status == 422);
        check_openapi("post", "/v1/desired", status, &value);
    }
    let (status, _, text) = call(&served, "GET", "/v1/desired", None, Some(TOKEN));
    assert_eq!(status, 405, "{text}");
    let (status, _, text) = call(&served, "POST", "/v2/desired", Some("{}"), Some(TOKEN));
    assert_eq!(status, 404, "{text}");
    // Still serving after all that.
    let (status, _, _) = call(&served, "POST", "/v1/desired", Some(&one), Some(TOKEN));
    assert_eq!(status, 200);
}

fn kill(served: &Served, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_broken_push_keeps_the_old_policy_serving_and_a_good_one_is_swapped_in() {
    let mut served = serve(&[]);
    let request = json!({"identity": identity("u-1001"), "as_of": "2026-11-21"});
    let (_, before) = post(&served, "/v1/desired", &request);
    let old_hash = before["policy_sha256"].as_str().unwrap().to_string();
    let roles = served.dir.path().join("roles");
    let file = std::fs::read_dir(&roles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "yaml"))
        .unwrap();
    let good = std::fs::read_to_string(&file).unwrap();

    // A broken push: SIGHUP, then POST /v1/reload — both keep the old policy.
    std::fs::write(&file, format!("{good}\nroles: [ this is not yaml\n")).unwrap();
    kill(&served, "-HUP");
    std::thread::sleep(Duration::from_millis(1500));
    let (status, after) = post(&served, "/v1/desired", &request);
    assert_eq!(status, 200);
    assert_eq!(after["policy_sha256"], old_hash.as_str());
    assert_eq!(after["results"], before["results"]);
    let (status, reload) = post(&served, "/v1/reload", &json!({}));
    assert_eq!(status, 422, "{reload}");
    assert_eq!(reload["error"]["code"], "reload-failed");
    assert_eq!(reload["policy_sha256"], old_hash.as_str());
    assert!(!reload["error"]["diagnostics"].as_array().unwrap().is_empty(), "{reload}");

    // A good push that changes something: swapped in, with a new hash on every answer.
    std::fs::write(&file, &good).unwrap();
    std::fs::write(
        roles.join("pushed.yaml"),
        "applications:\n  - id: pushed\n    entitlements:\n      - id: probe\n",
    )
    .unwrap();
    let (status, reload) = post(&served, "/v1/reload", &json!({}));
    assert_eq!(status, 200, "{reload}");
    assert_eq!(reload["previous_policy_sha256"], old_hash.as_str());
    let (_, now) = post(&served, "/v1/desired", &request);
    assert_eq!(now["policy_sha256"], reload["policy_sha256"]);

    // SIGTERM: a graceful stop, exit 0.
    kill(&served, "-TERM");
    let status = served.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `--format json`: every log line on stderr is one JSON object with its `event`.
#[test]
fn format_json_logs_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("roles"), &dir.path().join("roles"));
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir.path())
        .args(["-q", "serve", "--listen", "127.0.0.1:0", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut next_event = || -> Value {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object: `{line}`: {e}"))
    };
    let listening = next_event();
    assert_eq!(listening["event"], "listening", "{listening}");
    assert!(
        listening["address"].as_str().unwrap().starts_with("http://127.0.0.1:"),
        "{listening}"
    );
    let hash = listening["policy_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64, "{listening}");
    let status = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let reloaded = next_event();
    assert_eq!(reloaded, json!({"event": "reloaded", "policy_sha256": hash}));
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(next_event(), json!({"event": "stopped"}));
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// The answer of `entitle who ARGS --format json` over the example feed and live state.
fn cli_who(target: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(root())
        .arg("who")
        .args(target)
        .args([
            "--identities",
            "fixtures/identities.jsonl",
            "--live",
            "fixtures/live.jsonl",
            "--as-of",
            "2026-11-21",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn without_hash(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("policy_sha256");
    answer
}

#[test]
fn who_answers_entitlements_roles_and_packages_as_the_cli_does() {
    let served = serve_with(
        &[
            ("people.jsonl", "fixtures/identities.jsonl"),
            ("grants.jsonl", "fixtures/live.jsonl"),
        ],
        &["--identities", "people.jsonl", "--live", "grants.jsonl"],
    );
    for (path, cli) in [
        ("/v1/who/aws:prod-admin?as_of=2026-11-21", vec!["aws:prod-admin"]),
        // Percent-encoded, as a client library writes a path segment.
        ("/v1/who/aws%3Aprod-admin?as_of=2026-11-21T00%3A00%3A00Z", vec!["aws:prod-admin"]),
        ("/v1/who/role/engineer?as_of=2026-11-21", vec!["--role", "engineer"]),
        ("/v1/who/package/break-glass?as_of=2026-11-21", vec!["--package", "break-glass"]),
    ] {
        let (status, answer) = get(&served, path);
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(without_hash(answer), cli_who(&cli), "{path}");
    }
    // The answer has substance: who should hold it, and who holds it live without justification.
    let (_, admins) = get(&served, "/v1/who/aws:prod-admin?as_of=2026-11-21");
    assert!(admins["summary"]["should"].as_u64().unwrap() > 0, "{admins}");
    assert!(admins["summary"]["live_unjustified"].as_u64().unwrap() > 0, "{admins}");
    let (_, engineers) = get(&served, "/v1/who/role/engineer?as_of=2026-11-21");
    assert!(!engineers["role_holders"].as_array().unwrap().is_empty(), "{engineers}");

    // Unknown targets are 404, with a did-you-mean, as the CLI says them.
    for (path, code, help) in [
        ("/v1/who/aws:prod-admn", "unknown-entitlement", "did you mean `aws:prod-admin`?"),
        ("/v1/who/role/enginer", "unknown-role", "did you mean `engineer`?"),
        ("/v1/who/package/break-glas", "unknown-package", "did you mean `break-glass`?"),
    ] {
        let (status, error) = get(&served, path);
        assert_eq!((status, error["error"]["code"].clone()), (404, json!(code)), "{path}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().ends_with(help), "{error}");
    }
    // Query parameters are checked like request members; an unknown path shape is 404.
    for (path, status, code) in [
        ("/v1/who/aws:prod-admin?asof=2026-11-21", 422, "invalid-request"),
        ("/v1/who/aws:prod-admin?as_of=yesterday", 422, "invalid-request"),
        ("/v1/who/aws:prod-admin?as_of=2026-11-21&as_of=2026-11-22", 422, "invalid-request"),
        ("/v1/who/role/engineer/extra", 404, "not-found"),
        ("/v1/who/", 404, "not-found"),
    ] {
        let (got, error) = get(&served, path);
        assert_eq!((got, error["error"]["code"].clone()), (status, json!(code)), "{path}: {error}");
    }
    // Auth, and the method.
    for token in [None, Some("wrong-token")] {
        let (status, _, text) = call(&served, "GET", "/v1/who/aws:prod-admin", None, token);
        assert_eq!(status, 401, "{text}");
        check_openapi("get", "/v1/who/aws:prod-admin", status, &serde_json::from_str(&text).unwrap());
    }
    let (status, _, text) = call(&served, "POST", "/v1/who/aws:prod-admin", Some("{}"), Some(TOKEN));
    assert_eq!(status, 405, "{text}");
    // `/metrics` counts it, and the identities it evaluated.
    let (_, _, metrics) = call(&served, "GET", "/metrics", None, Some(TOKEN));
    assert!(
        metrics.contains("entitle_requests_total{endpoint=\"who\",status=\"200\"} 6\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("entitle_requests_total{endpoint=\"who\",status=\"404\"} 5\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("entitle_decisions_total 498\n"),
        "six answers of 83 identities: {metrics}"
    );
}

#[test]
fn a_broken_identity_feed_keeps_the_old_population_serving_and_a_good_one_is_swapped_in() {
    let served = serve_with(
        &[
            ("people.jsonl", "fixtures/identities.jsonl"),
            ("grants.jsonl", "fixtures/live.jsonl"),
        ],
        &["--identities", "people.jsonl", "--live", "grants.jsonl"],
    );
    let path = "/v1/who/aws:prod-admin?as_of=2026-11-21";
    let (_, before) = get(&served, path);
    assert_eq!(before["summary"]["evaluated"], 83, "{before}");
    let people = served.dir.path().join("people.jsonl");
    let good = std::fs::read_to_string(&people).unwrap();

    // Broken pushes of the feed: the live export in its place, bytes that are not UTF-8, the file gone.
    // Each reload is refused with the diagnostics, and the old population keeps answering.
    let live_export = std::fs::read(root().join("fixtures/live.jsonl")).unwrap();
    let not_utf8 = [good.as_bytes(), b"\xff\xfe\n"].concat();
    for (broken, says) in [
        (Some(live_export), "is a live-state export"),
        (Some(not_utf8), "not valid UTF-8"),
        (None, "cannot read the file"),
    ] {
        match &broken {
            Some(bytes) => std::fs::write(&people, bytes).unwrap(),
            None => std::fs::remove_file(&people).unwrap(),
        }
        let (status, reload) = post(&served, "/v1/reload", &json!({}));
        assert_eq!(status, 422, "{reload}");
        assert_eq!(reload["error"]["code"], "reload-failed");
        let diagnostics = reload["error"]["diagnostics"].as_array().unwrap();
        assert!(
            diagnostics
                .iter()
                .any(|d| d["message"].as_str().unwrap().contains(says) && d["file"].as_str().unwrap().ends_with("people.jsonl")),
            "{reload}"
        );
        let (status, now) = get(&served, path);
        assert_eq!(status, 200, "{now}");
        assert_eq!(now, before, "the old population keeps serving");
    }
    // SIGHUP with a broken feed: the same.
    kill(&served, "-HUP");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(get(&served, path).1, before);

    // A good push that changes who holds it: swapped in.
    let holder = before["should"][0]["identity"].as_str().unwrap().to_string();
    let fewer: String = good
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["id"] != holder.as_str())
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&people, fewer).unwrap();
    let (status, reload) = post(&served, "/v1/reload", &json!({}));
    assert_eq!(status, 200, "{reload}");
    let (_, after) = get(&served, path);
    assert_eq!(after["summary"]["evaluated"], 82, "{after}");
    assert!(
        after["should"].as_array().unwrap().iter().all(|h| h["identity"] != holder.as_str()),
        "{after}"
    );
    // The one who left the feed but still holds it live is now an orphaned account.
    assert!(
        after["live"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["identity"] == holder.as_str() && h["reason"] == "orphaned-account"),
        "{after}"
    );
}

#[test]
fn serve_refuses_to_start_on_a_broken_identity_feed() {
    let out = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(root())
        .args(["serve", "--listen", "127.0.0.1:0", "--identities", "fixtures/live.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`fixtures/live.jsonl` is a live-state export (grants of `identity` and `entitlement`), not an identity feed"),
        "{stderr}"
    );
}
