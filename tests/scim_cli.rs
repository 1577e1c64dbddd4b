//! The SCIM connector against a real SCIM 2.0 service provider: the Python
//! `scim2-server` (installed by `.ci/run`; these tests fail, not skip, when
//! it is missing). Each test starts its own server on a free loopback port,
//! loads the example organisation's `github` live state into it, and drives
//! `entitle plan --live-scim` and `entitle apply` as a user would.
#![cfg(all(feature = "serve", feature = "cli"))]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entitle::scim::ScimClient;
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-test-token";
const APP: &str = "github";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `scim2-server` command: `$SCIM2_SERVER`, the virtualenv `.ci/run` makes under target/, or PATH.
fn scim2_server() -> PathBuf {
    if let Some(p) = std::env::var_os("SCIM2_SERVER") {
        return PathBuf::from(p);
    }
    let venv = root().join("target/scim-venv/bin/scim2-server");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("scim2-server"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| {
        panic!("scim2-server is not installed: run `.ci/run`, or `python3 -m venv target/scim-venv && target/scim-venv/bin/pip install scim2-server`")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running scim2-server, stopped on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let port = free_port();
    let child = Command::new(scim2_server())
        .args(["--port", &port.to_string(), "--bearer-token", TOKEN])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("scim2-server starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}/v2"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        assert!(Instant::now() < deadline, "scim2-server did not listen on port {port} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client(base: &str) -> ScimClient {
    ScimClient::new(base, Some(TOKEN.to_string())).unwrap()
}

/// Loads the example organisation into the server: a user per identity of the feed and of the
/// live state, and a group per `github` entitlement of the catalog with its live members.
fn load_example(base: &str) {
    let scim = client(base);
    let mut identities: BTreeSet<String> = BTreeSet::new();
    for line in std::fs::read_to_string(root().join("fixtures/identities.jsonl")).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        identities.insert(v["id"].as_str().unwrap().to_string());
    }
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(root().join("fixtures/live.jsonl")).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let (identity, entitlement) = (v["identity"].as_str().unwrap(), v["entitlement"].as_str().unwrap());
        identities.insert(identity.to_string());
        if let Some(group) = entitlement.strip_prefix("github:") {
            members.entry(group.to_string()).or_default().insert(identity.to_string());
        }
    }
    let project = entitle::Project::load(&root().join("roles"), Some(&root().join("policies"))).unwrap();
    for entitlement in project.defs.entitlements.keys() {
        if let Some(group) = entitlement.strip_prefix("github:") {
            members.entry(group.to_string()).or_default();
        }
    }
    let mut scim_ids = BTreeMap::new();
    for id in &identities {
        let reply = scim
            .post(
                "/Users",
                &json!({"schemas": [entitle::io::SCIM_USER], "userName": id, "externalId": id}),
            )
            .unwrap();
        assert_eq!(reply.status, 201, "{reply:?}");
        scim_ids.insert(id.clone(), reply.body["id"].as_str().unwrap().to_string());
    }
    for (group, users) in &members {
        let members: Vec<Value> = users.iter().map(|u| json!({"value": scim_ids[u]})).collect();
        let reply = scim
            .post(
                "/Groups",
                &json!({"schemas": [entitle::io::SCIM_GROUP], "displayName": group, "members": members}),
            )
            .unwrap();
        assert_eq!(reply.status, 201, "{reply:?}");
    }
}

/// The server's memberships, read directly: group -> identity ids.
fn memberships(base: &str) -> BTreeMap<String, BTreeSet<String>> {
    let snapshot = entitle::scim::read_snapshot(&client(base), APP).unwrap();
    snapshot.groups.into_values().map(|g| (g.display_name, g.members)).collect()
}

fn entitle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(root())
        .env("ENTITLE_SCIM_TOKEN", TOKEN)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `plan --live-scim` for the example feed, written to `file`; the plan's JSON.
fn plan(base: &str, file: &Path) -> Value {
    let out = entitle(&[
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live-scim",
        base,
        "--app",
        APP,
        "--format",
        "json",
        // One application's live state: every other application's entitlements are grants.
        "--max-privileged-grants",
        "100%",
        "--max-revokes",
        "25%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(file, &out.stdout).unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn app_changes(plan: &Value) -> Vec<(String, String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entitlement"].as_str().unwrap().starts_with("github:"))
        .map(|c| {
            (
                c["op"].as_str().unwrap().into(),
                c["identity"].as_str().unwrap().into(),
                c["entitlement"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn apply(base: &str, plan: &Path, report: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "apply",
        "--plan",
        plan.to_str().unwrap(),
        "--scim",
        base,
        "--app",
        APP,
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = entitle(&args);
    let report = std::fs::read(report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (out, report)
}

#[test]
fn plan_apply_plan_again_is_a_round_trip_and_a_second_apply_is_a_no_op() {
    let server = start_server();
    load_example(&server.base);
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.json");
    let first = plan(&server.base, &plan_file);
    let changes = app_changes(&first);
    assert!(
        changes.iter().any(|c| c.0 == "grant") && changes.iter().any(|c| c.0 == "revoke"),
        "{changes:?}"
    );
    assert!(
        first["inputs"]["live_files"][0]["file"].as_str().unwrap().starts_with("scim:"),
        "{}",
        first["inputs"]
    );

    // A dry run sends nothing.
    let before = memberships(&server.base);
    let (out, report) = apply(
        &server.base,
        &plan_file,
        &dir.path().join("dry.json"),
        &["--dry-run", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["summary"]["would_apply"], changes.len(), "{report}");
    assert_eq!(report["summary"]["requests"], 0);
    assert_eq!(memberships(&server.base), before);
    // `--format json`: the summary on stderr is one JSON object, the report's summary.
    let logged: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(logged, serde_json::json!({"summary": report["summary"], "dry_run": true}));

    // Apply: every github change lands, the others are skipped, and the server says so directly.
    let live_out = dir.path().join("live-after.jsonl");
    let (out, report) = apply(
        &server.base,
        &plan_file,
        &dir.path().join("report.json"),
        &["--live-out", live_out.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["kind"], "entitle-apply-report");
    assert_eq!(report["live_before"], "matches-plan");
    assert_eq!(report["summary"]["applied"], changes.len(), "{report}");
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["complete"], true);
    let after = memberships(&server.base);
    for (op, identity, entitlement) in &changes {
        let group = entitlement.strip_prefix("github:").unwrap();
        assert_eq!(after[group].contains(identity), op == "grant", "{op} {identity} {entitlement}");
    }
    assert_eq!(report["live_after"]["file"], live_out.to_str().unwrap());
    // `verify` reads the live state apply wrote back: the plan's revocations are carried out.
    let verified = entitle(&[
        "verify",
        "--plan",
        plan_file.to_str().unwrap(),
        "--live",
        live_out.to_str().unwrap(),
    ]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));

    // Plan again: nothing left to do for github.
    let again = plan(&server.base, &dir.path().join("plan2.json"));
    assert_eq!(app_changes(&again), vec![], "{}", again["changes"]);
    // The live state written by --live-out is that same state, read as a file.
    let from_file = entitle(&[
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live",
        live_out.to_str().unwrap(),
        "--format",
        "json",
        "--max-privileged-grants",
        "100%",
    ]);
    let from_file: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(app_changes(&from_file), vec![]);

    // The first plan once more: everything already holds, nothing is sent.
    let (out, report) = apply(&server.base, &plan_file, &dir.path().join("report2.json"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["live_before"], "all-applied");
    assert_eq!(report["summary"]["already_applied"], changes.len(), "{report}");
    assert_eq!(report["summary"]["requests"], 0);
    assert_eq!(memberships(&server.base), after);
}

#[test]
fn a_plan_whose_live_state_changed_is_refused_and_so_is_a_refused_plan() {
    let server = start_server();
    load_example(&server.base);
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.json");
    let plan_json = plan(&server.base, &plan_file);
    // Someone changes a group after the plan was made: one member of `org-member` leaves.
    let scim = client(&server.base);
    let snapshot = entitle::scim::read_snapshot(&scim, APP).unwrap();
    let group = &snapshot.groups["org-member"];
    let leaver = group.members.iter().next().unwrap();
    let user = snapshot.user_of(leaver).unwrap();
    let patch = json!({"schemas": [entitle::scim::apply::SCIM_PATCH_OP],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", user.scim_id)}]});
    let reply = scim.patch(&format!("/Groups/{}", group.scim_id), &patch).unwrap();
    assert!(reply.status < 300, "{reply:?}");
    let before = memberships(&server.base);
    let (out, _) = apply(&server.base, &plan_file, &dir.path().join("r.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed since the plan was made") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert_eq!(memberships(&server.base), before);

    // A refused plan is never applied.
    let mut refused = plan_json.clone();
    refused["refused"] = "would revoke 900 grants, more than the 500 allowed".into();
    let refused_file = dir.path().join("refused.json");
    std::fs::write(&refused_file, refused.to_string()).unwrap();
    let (out, _) = apply(&server.base, &refused_file, &dir.path().join("r2.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a refused plan is never applied"),
        "{}",
        text(&out)
    );

    // A plan made from a file, not from this service provider, is refused.
    let file_plan = entitle(&[
        "plan",
        "--identities",
        "fixtures/identities.jsonl",
        "--live",
        "fixtures/live.jsonl",
        "--format",
        "json",
        "--force",
    ]);
    let file_plan_path = dir.path().join("file-plan.json");
    std::fs::write(&file_plan_path, &file_plan.stdout).unwrap();
    let (out, _) = apply(&server.base, &file_plan_path, &dir.path().join("r3.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--live-scim"), "{}", text(&out));
    assert_eq!(memberships(&server.base), before);
}

/// How the proxy misbehaves.
const PASS: u32 = 0;
const EVERY_THIRD: u32 = 1;
const FAIL_PATCH_TO: u32 = 2;

/// A loopback HTTP proxy in front of the server that fails on purpose: every third request
/// answered `503` with `Retry-After: 0`, or every PATCH whose path holds `target` answered `500`.
struct FlakyProxy {
    base: String,
    mode: Arc<AtomicU32>,
    count: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

fn start_proxy(upstream_port: u16, target: Arc<std::sync::Mutex<String>>) -> FlakyProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = Arc::new(AtomicU32::new(PASS));
    let count = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (m, c, f) = (mode.clone(), count.clone(), failed.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let request = read_request(&mut client);
            let head = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            let fail = match m.load(Ordering::SeqCst) {
                EVERY_THIRD => n % 3 == 0,
                FAIL_PATCH_TO => head.starts_with("PATCH") && head.contains(target.lock().unwrap().as_str()),
                _ => false,
            };
            if fail {
                f.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "503", "detail": "injected failure"}"#;
                let status = if m.load(Ordering::SeqCst) == EVERY_THIRD {
                    "503 Service Unavailable"
                } else {
                    "500 Internal Server Error"
                };
                let _ = write!(client, "HTTP/1.1 {status}\r\nRetry-After: 0\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                continue;
            }
            let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port)).unwrap();
            upstream.write_all(&request).unwrap();
            let mut response = Vec::new();
            upstream.read_to_end(&mut response).unwrap();
            let _ = client.write_all(&response);
        }
    });
    FlakyProxy {
        base: format!("http://127.0.0.1:{port}/v2"),
        mode,
        count,
        failed,
    }
}

/// One HTTP request, rewritten to close its connection (so each request is one connection).
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return data;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    while data.len() < header_end + length {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let mut rewritten: Vec<String> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(str::to_string)
        .collect();
    rewritten.push("Connection: close".into());
    let mut out = (rewritten.join("\r\n") + "\r\n\r\n").into_bytes();
    out.extend_from_slice(&data[header_end..]);
    out
}

#[test]
fn retries_on_a_flaky_server_and_a_partial_apply_loses_nothing() {
    let server = start_server();
    load_example(&server.base);
    let port: u16 = server
        .base
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/v2")
        .parse()
        .unwrap();
    let target = Arc::new(std::sync::Mutex::new(String::new()));
    let proxy = start_proxy(port, target.clone());
    let dir = tempfile::tempdir().unwrap();

    // Every third request fails with 503 and `Retry-After: 0`: the reads and the PATCHes are retried.
    proxy.mode.store(EVERY_THIRD, Ordering::SeqCst);
    let plan_file = dir.path().join("plan.json");
    let plan_json = plan(&proxy.base, &plan_file);
    let changes = app_changes(&plan_json);
    let (out, report) = apply(&proxy.base, &plan_file, &dir.path().join("report.json"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["summary"]["applied"], changes.len(), "{report}");
    assert!(proxy.failed.load(Ordering::SeqCst) > 0 && proxy.count.load(Ordering::SeqCst) > 3);
    // Reads are retried too: the plan read through the proxy saw the whole state.
    proxy.mode.store(PASS, Ordering::SeqCst);
    assert_eq!(app_changes(&plan(&proxy.base, &dir.path().join("after.json"))), vec![]);

    // A fresh organisation; the server now refuses every PATCH to one group, whatever the retries.
    drop(server);
    let server = start_server();
    load_example(&server.base);
    let port: u16 = server
        .base
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/v2")
        .parse()
        .unwrap();
    let proxy = start_proxy(port, target.clone());
    let plan_file = dir.path().join("plan-b.json");
    let plan_json = plan(&proxy.base, &plan_file);
    let changes = app_changes(&plan_json);
    let snapshot = entitle::scim::read_snapshot(&client(&server.base), APP).unwrap();
    let broken_group = changes
        .iter()
        .map(|c| c.2.strip_prefix("github:").unwrap())
        .next()
        .unwrap()
        .to_string();
    *target.lock().unwrap() = snapshot.groups[&broken_group].scim_id.clone();
    proxy.mode.store(FAIL_PATCH_TO, Ordering::SeqCst);
    let report_file = dir.path().join("partial.json");
    let (out, report) = apply(&proxy.base, &plan_file, &report_file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["complete"], false);
    let failed: Vec<&Value> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    let applied = report["summary"]["applied"].as_u64().unwrap() as usize;
    assert!(!failed.is_empty() && applied > 0, "{report}");
    assert!(failed
        .iter()
        .all(|c| c["entitlement"] == format!("github:{broken_group}") && c["error"].as_str().unwrap().contains("injected failure")));
    assert_eq!(failed.len() + applied, changes.len(), "every change is accounted for: {report}");
    let broken_attempts = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == broken_group.as_str())
        .unwrap()["attempts"]
        .clone();
    assert_eq!(broken_attempts, 5, "{report}");

    // Without the report, the changed live state refuses the plan; with it, the rest is applied.
    proxy.mode.store(PASS, Ordering::SeqCst);
    let (out, _) = apply(&proxy.base, &plan_file, &dir.path().join("again.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (out, resumed) = apply(
        &proxy.base,
        &plan_file,
        &dir.path().join("resumed.json"),
        &["--resume", report_file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(resumed["live_before"], "resumed");
    assert_eq!(resumed["summary"]["applied"].as_u64().unwrap() as usize, failed.len(), "{resumed}");
    assert_eq!(
        resumed["summary"]["already_applied"].as_u64().unwrap() as usize,
        applied,
        "{resumed}"
    );
    let after = memberships(&server.base);
    for (op, identity, entitlement) in &changes {
        let group = entitlement.strip_prefix("github:").unwrap();
        assert_eq!(after[group].contains(identity), op == "grant", "{op} {identity} {entitlement}");
    }
}
