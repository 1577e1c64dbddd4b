//! The solver: cvc5 processes driven by Cedar's symbolic compiler, one warm
//! process per worker thread, with a time limit per query.
//!
//! The crate's own `SolverPool` starts every process with a fixed limit for
//! the *whole process* (`--tlimit=60000`, wall clock since it started), so a
//! warm solver reused across queries would be killed after a minute and the
//! per-query limit could not be chosen. Each worker here owns one process
//! started with `--tlimit-per` (cvc5 answers `unknown` when a query runs out),
//! and a wall-clock guard slightly longer than that kills and restarts a
//! process that does not answer at all.
//!
//! Invariant: a query whose answer is not `sat` or `unsat` from the solver is
//! [`Answer::Unknown`], never treated as proved.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cedar_policy_symcc::err::Error as SymccError;
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicySet, Env};

use super::ProveError;

/// How to start the solver and how long a query may take.
#[derive(Debug, Clone)]
pub struct SolverConfig {
    /// The cvc5 executable (`CVC5`, else `cvc5` on `PATH`).
    pub program: String,
    /// The time limit of one query.
    pub timeout: Duration,
}

/// How to get the solver, in one sentence.
pub const INSTALL_HINT: &str =
    "install it (`apt-get install cvc5` on Debian and Ubuntu, or a release from the cvc5 project) or set `CVC5` to its path";

impl SolverConfig {
    /// The solver named by `CVC5` (else `cvc5` on `PATH`), checked to start.
    pub fn from_env(timeout: Duration) -> Result<SolverConfig, ProveError> {
        let program = std::env::var("CVC5").unwrap_or_else(|_| "cvc5".to_string());
        let config = SolverConfig { program, timeout };
        config.check()?;
        Ok(config)
    }

    /// Starts the solver once (`--version`) to make sure it is there.
    pub fn check(&self) -> Result<(), ProveError> {
        let missing = |why: String| ProveError::SolverMissing {
            program: self.program.clone(),
            why,
        };
        match std::process::Command::new(&self.program).arg("--version").output() {
            Ok(out) if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("cvc5") => Ok(()),
            Ok(out) if out.status.success() => Err(missing("it does not say it is cvc5".into())),
            Ok(out) => Err(missing(format!("`--version` failed with {}", out.status))),
            Err(e) => Err(missing(e.to_string())),
        }
    }
}

/// What the solver says of a query "can both policy sets allow one request".
#[derive(Debug)]
pub enum Answer {
    /// No request is allowed by both (the property holds).
    Disjoint,
    /// A request (with its entities) allowed by both.
    Overlap(Box<Env>),
    /// No answer, with the reason.
    Unknown(String),
}

/// One worker's solver process and the runtime that talks to it.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    compiler: Option<CedarSymCompiler<LocalSolver>>,
    config: SolverConfig,
}

impl Session {
    fn new(config: &SolverConfig) -> Result<Session, ProveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProveError::Setup(format!("cannot start the solver runtime: {e}")))?;
        Ok(Session {
            runtime,
            compiler: None,
            config: config.clone(),
        })
    }

    fn start(&self) -> Result<CedarSymCompiler<LocalSolver>, String> {
        let _guard = self.runtime.enter();
        let limit = self.config.timeout.as_millis().max(1);
        let mut command = tokio::process::Command::new(&self.config.program);
        // `--strings-exp`: cvc5 before 1.1 refuses `str.contains` (a `like`
        // pattern with a wildcard inside, a glob such as `*-OPS-*`) without it.
        command
            .args(["--lang", "smt", "--strings-exp", &format!("--tlimit-per={limit}")])
            .kill_on_drop(true);
        let solver = LocalSolver::from_command(&mut command).map_err(|e| format!("cannot start `{}`: {e}", self.config.program))?;
        CedarSymCompiler::new(solver).map_err(|e| e.to_string())
    }

    /// Can a request be allowed by both `a` and `b` (compiled for the same request environment)?
    pub fn overlap(&mut self, a: &CompiledPolicySet, b: &CompiledPolicySet) -> Answer {
        let mut compiler = match self.compiler.take() {
            Some(c) => c,
            None => match self.start() {
                Ok(c) => c,
                Err(e) => return Answer::Unknown(e),
            },
        };
        let timeout = self.config.timeout;
        // The solver's own limit covers solving; the guard also covers writing the query.
        let guard = timeout + Duration::from_secs(2).min(timeout);
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(guard, compiler.check_disjoint_with_counterexample_opt(a, b)).await });
        match outcome {
            Ok(Ok(None)) => {
                self.compiler = Some(compiler);
                Answer::Disjoint
            }
            Ok(Ok(Some(env))) => {
                self.compiler = Some(compiler);
                Answer::Overlap(Box::new(env))
            }
            Ok(Err(SymccError::SolverUnknown)) => {
                self.compiler = Some(compiler);
                Answer::Unknown(format!(
                    "the solver gave up (unknown) within the time limit of {}",
                    describe(timeout)
                ))
            }
            Ok(Err(e)) => {
                // The process may be in any state: start afresh next time.
                self.kill(compiler);
                Answer::Unknown(format!("the solver failed: {e}"))
            }
            Err(_) => {
                self.kill(compiler);
                Answer::Unknown(format!("no answer within the time limit of {}", describe(timeout)))
            }
        }
    }

    fn kill(&self, mut compiler: CedarSymCompiler<LocalSolver>) {
        let _ = self.runtime.block_on(compiler.solver_mut().clean_up());
    }
}

/// A duration as a person reads it: `60s`, `1.5s`, `250ms`.
pub fn describe(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms > 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

/// Stack of a proof worker thread.
const WORKER_STACK: usize = 256 << 20;

/// Runs `work` on every item with `jobs` workers, each with its own solver
/// process; results come back in input order whatever order they finish in.
pub fn in_parallel<T: Sync, R: Send>(
    config: &SolverConfig,
    jobs: usize,
    items: &[T],
    work: impl Fn(&mut Session, &T) -> R + Sync,
) -> Result<Vec<R>, ProveError> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let workers = jobs.clamp(1, items.len().max(1));
    let failures: Mutex<Vec<ProveError>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            // The symbolic compiler recurses over terms as deep as the policy
            // set is long (a permit per role): give it room.
            let spawned = std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, || {
                let mut session = match Session::new(config) {
                    Ok(s) => s,
                    Err(e) => {
                        if let Ok(mut f) = failures.lock() {
                            f.push(e);
                        }
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = work(&mut session, item);
                    if let Some(slot) = results.get(i) {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(r);
                        }
                    }
                }
            });
            if let Err(e) = spawned {
                if let Ok(mut f) = failures.lock() {
                    f.push(ProveError::Setup(format!("cannot start a proof worker: {e}")));
                }
            }
        }
    });
    if let Some(e) = failures.into_inner().ok().and_then(|mut f| f.pop()) {
        return Err(e);
    }
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .ok_or_else(|| ProveError::Setup("a proof worker stopped before answering".into()))
        })
        .collect()
}
