//! Definitions at a git revision: the `roles/` and `policies/` trees of a
//! commit, read through the git CLI (`git rev-parse`, `git ls-tree`,
//! `git cat-file --batch`) from the repository that holds the directories —
//! what `whatif --base GITREF` compares the working tree with. The user makes
//! no copy, and nothing in the repository or the working tree is changed.
//!
//! Files are named as [`crate::model::read_tree`] names them (the directory
//! as given, joined with the path inside it), so the base's diagnostics and
//! justifications point where the working tree's do; they are bounded the
//! same way (file count, each file's size, all files together), and a file
//! that is not UTF-8 is an error naming it. It never interprets what it reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::model::load::{MAX_FILES, MAX_TREE_BYTES};
use crate::model::{yaml::MAX_FILE_BYTES, SourceFile};
use crate::project::Sources;

/// Why the definitions at a revision could not be read: the revision, the file (or directory), what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read `{path}` at revision `{rev}`: {message}")]
pub struct GitError {
    /// The revision as given.
    pub rev: String,
    /// The file or directory.
    pub path: String,
    /// What is wrong, one sentence.
    pub message: String,
}

/// The sources at `rev` of the repository holding `roles_dir`: every
/// `*.yaml`/`*.yml` under `roles_dir` and every `*.cedar` under
/// `policies_dir` (`None`: no guardrails, as `--no-policies` says) as the
/// commit has them. Both directories must exist in the working tree (that is
/// how the repository and the paths inside it are found) and at the revision.
pub fn sources_at(rev: &str, roles_dir: &Path, policies_dir: Option<&Path>) -> Result<Sources, GitError> {
    let error = |path: &Path, message: String| GitError {
        rev: rev.to_string(),
        path: path.display().to_string(),
        message,
    };
    if rev.is_empty() || rev.starts_with('-') || rev.chars().any(|c| c.is_control() || c == ':') {
        return Err(error(
            roles_dir,
            "not a revision git can name (`main`, `HEAD~1`, a commit id)".into(),
        ));
    }
    if !roles_dir.is_dir() {
        return Err(error(roles_dir, "the directory does not exist in the working tree".into()));
    }
    let commit = git(
        roles_dir,
        &["rev-parse", "--verify", "--end-of-options", &format!("{rev}^{{commit}}")],
        None,
    )
    .map_err(|e| {
        let message = if e.contains("not a git repository") {
            "the directory is not in a git repository".to_string()
        } else if e.starts_with("cannot run") {
            e
        } else {
            "git knows no such commit in the repository holding the directory".to_string()
        };
        error(roles_dir, message)
    })?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    if commit.is_empty() {
        return Err(error(roles_dir, "git knows no such commit in this repository".into()));
    }
    let mut budget = Budget::default();
    let roles = tree(&commit, roles_dir, &["yaml", "yml"], &mut budget).map_err(|(path, message)| error(&path, message))?;
    if roles.is_empty() {
        return Err(error(
            roles_dir,
            "no definitions (`*.yaml`, `*.yml`) under the directory at that revision".into(),
        ));
    }
    let policies = match policies_dir {
        None => Vec::new(),
        Some(dir) if !dir.is_dir() => return Err(error(dir, "the directory does not exist in the working tree".into())),
        Some(dir) => tree(&commit, dir, &["cedar"], &mut Budget::default()).map_err(|(path, message)| error(&path, message))?,
    };
    Ok(Sources { roles, policies })
}

/// Files and bytes read so far from one tree.
#[derive(Debug, Default)]
struct Budget {
    files: usize,
    bytes: u64,
}

/// Every file with one of `extensions` under `dir` at `commit`, sorted by path.
fn tree(commit: &str, dir: &Path, extensions: &[&str], budget: &mut Budget) -> Result<Vec<SourceFile>, (PathBuf, String)> {
    let fail = |message: String| (dir.to_path_buf(), message);
    // The directory must be a tree at the revision (an empty one holds nothing, a missing one is an error).
    let kind = git(dir, &["cat-file", "-t", &format!("{commit}:./")], None)
        .map_err(|_| fail("the directory does not exist at that revision".into()))?;
    if String::from_utf8_lossy(&kind).trim() != "tree" {
        return Err(fail("not a directory at that revision".into()));
    }
    // `<mode> <type> <object> <size>\t<path>\0`, paths relative to `dir`.
    let listing = git(dir, &["ls-tree", "-r", "-z", "-l", commit, "--", "."], None).map_err(fail)?;
    let mut entries: Vec<(PathBuf, String)> = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else { continue };
        let fields: Vec<&str> = meta.split_whitespace().collect();
        let [mode, "blob", object, size] = fields.as_slice() else {
            continue;
        };
        let path = PathBuf::from(path);
        if !path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)) {
            continue;
        }
        let name = dir.join(&path);
        if *mode == "120000" {
            return Err((name, "a symbolic link: the definitions at a revision are read as files only".into()));
        }
        let size: u64 = size.parse().unwrap_or(u64::MAX);
        if size > MAX_FILE_BYTES as u64 {
            return Err((name, format!("the file is {size} bytes, more than the {MAX_FILE_BYTES} allowed")));
        }
        budget.files += 1;
        budget.bytes = budget.bytes.saturating_add(size);
        if budget.files > MAX_FILES {
            return Err(fail(format!("more than {MAX_FILES} files under the directory")));
        }
        if budget.bytes > MAX_TREE_BYTES {
            return Err(fail(format!(
                "the files under the directory hold more than the {MAX_TREE_BYTES} bytes allowed in all"
            )));
        }
        entries.push((name, object.to_string()));
    }
    entries.sort();
    let objects: String = entries.iter().map(|(_, o)| format!("{o}\n")).collect();
    let blobs = git(dir, &["cat-file", "--batch"], Some(objects.into_bytes())).map_err(fail)?;
    let mut reader = BufReader::new(blobs.as_slice());
    let mut files = Vec::with_capacity(entries.len());
    for (name, object) in entries {
        let shown = name.display().to_string();
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| (name.clone(), e.to_string()))?;
        let size: usize = match header.split_whitespace().collect::<Vec<_>>().as_slice() {
            [o, "blob", size] if *o == object => size
                .parse()
                .map_err(|_| (name.clone(), format!("git answered `{}`", header.trim())))?,
            _ => return Err((name, format!("git answered `{}` for object {object}", header.trim()))),
        };
        let mut bytes = vec![0; size];
        reader.read_exact(&mut bytes).map_err(|e| (name.clone(), e.to_string()))?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(|e| (name.clone(), e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| (name.clone(), format!("not UTF-8 text ({e})")))?;
        // Editors on Windows start files with a byte-order mark; it is not content.
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
        files.push(SourceFile { name: shown, text });
    }
    Ok(files)
}

/// Runs git in `dir` with `args` (and `input` on its standard input); its standard output, or its error in one sentence.
fn git(dir: &Path, args: &[&str], input: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `git` ({e}): is git installed and on PATH?"))?;
    // Written from another thread: git answers while it reads, and a full pipe would block both.
    let writer = match (input, child.stdin.take()) {
        (Some(bytes), Some(mut stdin)) => Some(std::thread::spawn(move || stdin.write_all(&bytes))),
        _ => None,
    };
    let output = child.wait_with_output().map_err(|e| format!("`git {}` failed: {e}", args[0]))?;
    if let Some(w) = writer {
        // A write error means git stopped reading: its exit status says why.
        let _ = w.join();
    }
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
        return Err(format!("`git {}` failed: {}", args[0], first.trim_start_matches("fatal: ")));
    }
    Ok(output.stdout)
}
