//! One module per fuzz target, each with `check(data)`: it panics when an
//! invariant breaks. Shared by the fuzz targets (`fuzz/fuzz_targets/`) and the
//! main crate's `tests/fuzz_regressions.rs`, which runs every committed corpus
//! file through the same checks.

pub mod conditions;
pub mod definitions;
pub mod identities;
pub mod live;

/// The stack a loader or evaluator must fit in: the default of a Rust test
/// thread, smaller than a main thread's, so a fuzzer finds what a test would.
pub const STACK_BYTES: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with a [`STACK_BYTES`] stack; a panic there is a panic here.
pub fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, f)
            .expect("a thread starts");
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// How many lines `bytes` has (a text without a line break is one line).
pub fn line_count(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.iter().filter(|b| **b == b'\n').count() + 1).unwrap_or(u32::MAX)
}

/// Asserts that a message shown to a person is one line with no control,
/// invisible or terminal-escape character (spec §8, docs/security.md T5).
pub fn assert_shown_safely(what: &str, message: &str) {
    assert!(!message.is_empty(), "{what}: an empty message");
    if let Some(c) = message.chars().find(|c| entitle::term::is_unsafe(*c)) {
        panic!("{what}: message holds the unsafe character U+{:04X}: {message:?}", u32::from(c));
    }
}

/// A reader of structured choices from fuzz bytes: every call takes what it
/// needs and answers a default once the bytes run out, so any input decodes.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// Are the bytes used up?
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A number below `n` (`n` ≥ 1).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// One of `items`.
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }

    /// True about `percent` times in 100 (of the byte's 256 values).
    pub fn chance(&mut self, percent: u32) -> bool {
        u32::from(self.byte()) * 100 < percent * 256
    }

    /// Up to `max` raw bytes as text (lossy UTF-8).
    pub fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        String::from_utf8_lossy(head).into_owned()
    }
}
