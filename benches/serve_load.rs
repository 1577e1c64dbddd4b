//! Load test of `entitle serve` (issue #14): N concurrent clients on
//! loopback posting one identity each to `POST /v1/desired`, against the
//! same requests answered in-process in the same run — through
//! [`Service::handle`] (JSON in and out, no HTTP) and through the engine
//! alone (`Engine::desired`, no JSON).
//!
//! The organisation is generated: the reference catalog and roles (2,000
//! roles, 40,000 entitlements) with `ENTITLE_LOAD_PEOPLE` people (default
//! 5,000) and a tenth as many NHIs. Bounded: `ENTITLE_LOAD_CLIENTS`
//! clients (default 32) send `ENTITLE_LOAD_REQUESTS` requests each
//! (default 500), and each phase stops after 60 s whatever is left.
//!
//! The HTTP clients are closed-loop: each has its own keep-alive
//! connection and sends its next request only once the answer to the last
//! has arrived whole, with status 200 and a body that parses to one valid
//! result; every request's latency is recorded, the slow ones included.
//! The `http` phase runs them as tasks with hyper's client on a tokio
//! runtime of `ENTITLE_LOAD_CLIENT_THREADS` threads (default 1); the
//! `threads` phase, the first generator, as one OS thread per client
//! blocking on ureq. `ENTITLE_LOAD_SERVER_WORKERS` sets the service's
//! runtime workers (default one per core). `ENTITLE_LOAD_PHASES` (default
//! `library,http,threads`) picks phases.
//!
//! `cargo bench --bench serve_load` prints throughput and p50/p99/max
//! latency per phase; benches/README.md records the figures.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entitle::eval::Evaluator;
use entitle::gen::{generate, GenOptions};
use entitle::serve::{http, ServeConfig, Service};
use serde_json::{json, Value};

const PHASE_LIMIT: Duration = Duration::from_secs(60);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Latencies of one phase, summarised.
fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "{name:<28} {:>7} requests  {:>9.0} req/s  p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Runs `work(client, i)` for `requests` requests on each of `clients` threads; latencies and wall time.
fn phase(clients: usize, requests: usize, work: impl Fn(usize, usize) + Sync) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let latencies = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let work = &work;
                s.spawn(move || {
                    let mut mine = Vec::with_capacity(requests);
                    for i in 0..requests {
                        if started.elapsed() > PHASE_LIMIT {
                            break;
                        }
                        let t = Instant::now();
                        work(c, i);
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    (latencies, started.elapsed())
}

/// The answer a client checks: one result, for a valid record.
#[derive(serde::Deserialize)]
struct Answer {
    results: Vec<AnswerResult>,
}

#[derive(serde::Deserialize)]
struct AnswerResult {
    valid: bool,
}

/// One request on a client's connection, its answer read whole and checked.
async fn one_request(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>,
    address: std::net::SocketAddr,
    body: hyper::body::Bytes,
) {
    use http_body_util::BodyExt;
    sender.ready().await.unwrap();
    let request = hyper::Request::post("/v1/desired")
        .header(hyper::header::HOST, address.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(body))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer: Answer = serde_json::from_slice(&bytes).unwrap();
    assert!(answer.results.len() == 1 && answer.results[0].valid);
}

/// `clients` closed-loop clients as tasks on a tokio runtime of `threads` threads, each with its
/// own keep-alive HTTP/1.1 connection (hyper's client): a client sends its next request only
/// once the answer to the last has arrived whole, with status 200 and a body that parses to one
/// valid result. Latencies of every request, and wall time.
fn async_phase(
    address: std::net::SocketAddr,
    clients: usize,
    requests: usize,
    threads: usize,
    bodies: &[String],
    pick: &(dyn Fn(usize, usize) -> usize + Sync),
) -> (Vec<Duration>, Duration) {
    use hyper::body::Bytes;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .unwrap();
    // Each client's bodies, chosen as the other phases choose them.
    let mine: Vec<Vec<Bytes>> = (0..clients)
        .map(|c| (0..requests).map(|i| Bytes::from(bodies[pick(c, i)].clone())).collect())
        .collect();
    runtime.block_on(async move {
        let mut connections = Vec::with_capacity(clients);
        for _ in 0..clients {
            let stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(connection);
            connections.push(sender);
        }
        // Warm the connections once.
        for sender in &mut connections {
            one_request(sender, address, mine[0][0].clone()).await;
        }
        let started = Instant::now();
        let tasks: Vec<_> = connections
            .into_iter()
            .zip(mine)
            .map(|(mut sender, bodies)| {
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(bodies.len());
                    for body in bodies {
                        if started.elapsed() > PHASE_LIMIT {
                            break;
                        }
                        let t = Instant::now();
                        one_request(&mut sender, address, body).await;
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(clients * requests);
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        (latencies, started.elapsed())
    })
}

fn main() {
    let clients = env_usize("ENTITLE_LOAD_CLIENTS", 32);
    let requests = env_usize("ENTITLE_LOAD_REQUESTS", 500);
    let people = env_usize("ENTITLE_LOAD_PEOPLE", 5_000);
    let options = GenOptions {
        people,
        nhis: people / 10,
        ..GenOptions::reference()
    };
    let org = generate(&options).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    org.write_to(dir.path()).unwrap();
    let as_of = options.as_of.to_rfc3339();
    // People only: an NHI's owner would have to travel with it.
    let bodies: Vec<String> = org
        .identities
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("owner").is_none())
        .map(|v| json!({"identity": v, "as_of": as_of}).to_string())
        .collect();
    let service = Arc::new(
        Service::new(ServeConfig {
            workers: std::env::var("ENTITLE_LOAD_SERVER_WORKERS").ok().and_then(|v| v.parse().ok()),
            ..ServeConfig::new(dir.path().join("roles"), Some(dir.path().join("policies")))
        })
        .unwrap_or_else(|d| panic!("{d:?}")),
    );
    let loaded = service.current();
    let states: Vec<entitle::state::IdentityState> = org
        .identities
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("owner").is_none())
        .map(|v| entitle::state::IdentityState::from_json(&v, &loaded.project.defs).unwrap())
        .collect();
    let pick = |c: usize, i: usize| (c * 7919 + i * 104_729) % bodies.len();
    println!(
        "serve load: {} roles, {} entitlements, {} people in the feed; {clients} clients x {requests} requests of one identity each; {} cores",
        options.roles,
        options.entitlements,
        bodies.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Which phases run (all by default; one alone is handy under a profiler).
    let phases = std::env::var("ENTITLE_LOAD_PHASES").unwrap_or_else(|_| "library,http,threads".into());
    let runs = |name: &str| phases.split(',').any(|p| p.trim() == name);
    if runs("library") {
        let (l, w) = phase(clients, requests, |c, i| {
            let d = loaded.engine.desired(&states[pick(c, i)], None, options.as_of).unwrap();
            std::hint::black_box(d);
        });
        report("library: Engine::desired", l, w);
        let (l, w) = phase(clients, requests, |c, i| {
            let reply = service.handle("POST", "/v1/desired", None, bodies[pick(c, i)].as_bytes());
            assert_eq!(reply.status, 200);
        });
        report("library: Service::handle", l, w);
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let server = {
        let service = service.clone();
        std::thread::spawn(move || {
            let shutdown = async move {
                while stopped.try_recv().is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            http::serve(service, listener, shutdown, |_| None).unwrap();
        })
    };
    let client_threads = env_usize("ENTITLE_LOAD_CLIENT_THREADS", 1);
    if runs("http") {
        let (l, w) = async_phase(address, clients, requests, client_threads, &bodies, &pick);
        report("http: POST /v1/desired", l, w);
    }

    if runs("threads") {
        // The first generator, for comparison: one OS thread per client, each blocking on its ureq connection.
        let url = format!("http://{address}/v1/desired");
        let agents: Vec<ureq::Agent> = (0..clients)
            .map(|_| ureq::Agent::new_with_config(ureq::Agent::config_builder().build()))
            .collect();
        // Warm the connections once.
        for agent in &agents {
            agent.post(&url).content_type("application/json").send(bodies[0].as_str()).unwrap();
        }
        let (l, w) = phase(clients, requests, |c, i| {
            let mut response = agents[c]
                .post(&url)
                .content_type("application/json")
                .send(bodies[pick(c, i)].as_str())
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let answer: Answer = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
            assert!(answer.results.len() == 1 && answer.results[0].valid);
        });
        report("http, thread clients (ureq)", l, w);
    }
    let _ = stop.send(());
    server.join().unwrap();
}
