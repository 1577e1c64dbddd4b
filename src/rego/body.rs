//! Rule bodies as predicates: a disjunction of conjunctions of Rego
//! statements, and the helper rules that keep them linear in size.
//!
//! Every predicate is *closed*: each body binds every variable it reads,
//! except the rule's parameter (`res`, the candidate entitlement, in
//! guardrail rules). That is what lets a predicate move into a helper rule
//! or sit under `not` without changing its meaning.

/// A predicate: it holds when any of its bodies holds; a body holds when
/// every statement does (an empty body always holds, no body never does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pred(pub(super) Vec<Vec<String>>);

impl Pred {
    /// Always holds.
    pub(super) fn always() -> Pred {
        Pred(vec![Vec::new()])
    }

    /// Never holds.
    pub(super) fn never() -> Pred {
        Pred(Vec::new())
    }

    /// One statement.
    pub(super) fn stmt(s: impl Into<String>) -> Pred {
        Pred(vec![vec![s.into()]])
    }

    /// One body of several statements.
    pub(super) fn body(statements: Vec<String>) -> Pred {
        Pred(vec![statements])
    }

    pub(super) fn is_never(&self) -> bool {
        self.0.is_empty()
    }
}

/// Can `not` be put in front of this statement as it is? (Not in front of a
/// binding or a `some`, which would leave its variables unbound.)
fn negatable(s: &str) -> bool {
    !(s.starts_with("some ") || s.contains(" := "))
}

/// Writes helper rules and hands out fresh names.
#[derive(Debug, Default)]
pub(super) struct Helpers {
    /// The helper rules written so far, in order.
    pub(super) rules: Vec<String>,
    next_helper: usize,
    next_var: usize,
    /// The parameter every helper takes in the current context (`res` in guardrails).
    pub(super) param: Option<&'static str>,
}

impl Helpers {
    /// A fresh local variable name.
    pub(super) fn var(&mut self) -> String {
        self.next_var += 1;
        format!("v{}", self.next_var)
    }

    /// Both hold.
    pub(super) fn and(&mut self, a: Pred, b: Pred) -> Pred {
        if a.is_never() || b.is_never() {
            return Pred::never();
        }
        let (a, b) = if a.0.len() > 1 && b.0.len() > 1 {
            (Pred::stmt(self.helper(a)), b)
        } else {
            (a, b)
        };
        let mut out = Vec::new();
        for x in &a.0 {
            for y in &b.0 {
                out.push(x.iter().chain(y).cloned().collect());
            }
        }
        Pred(out)
    }

    /// Every one holds (an empty list always does).
    pub(super) fn all(&mut self, preds: impl IntoIterator<Item = Pred>) -> Pred {
        preds.into_iter().fold(Pred::always(), |acc, p| self.and(acc, p))
    }

    /// Either holds.
    pub(super) fn or(a: Pred, b: Pred) -> Pred {
        Pred(a.0.into_iter().chain(b.0).collect())
    }

    /// It does not hold. Only for predicates that cannot fail with an error
    /// (the caller's business: Cedar's errors are not falsehood).
    pub(super) fn not(&mut self, p: Pred) -> Pred {
        if p.is_never() {
            return Pred::always();
        }
        if p.0.iter().any(Vec::is_empty) {
            return Pred::never();
        }
        if let [body] = p.0.as_slice() {
            if let [s] = body.as_slice() {
                if let Some(inner) = s.strip_prefix("not ") {
                    return Pred::stmt(inner.to_string());
                }
                if negatable(s) {
                    return Pred::stmt(format!("not {s}"));
                }
            }
        }
        let call = self.helper(p);
        Pred::stmt(format!("not {call}"))
    }

    /// One statement that holds exactly when `p` does.
    pub(super) fn statement(&mut self, p: Pred) -> String {
        if p.is_never() {
            return "false".into();
        }
        match p.0.as_slice() {
            [body] if body.is_empty() => "true".into(),
            [body] if body.len() == 1 => body[0].clone(),
            _ => self.helper(p),
        }
    }

    /// A helper rule (a function of the context's parameter) holding when `p`
    /// holds; returns the statement that calls it.
    pub(super) fn helper(&mut self, p: Pred) -> String {
        self.next_helper += 1;
        let (head, call) = match self.param {
            Some(param) => (format!("h{}({param})", self.next_helper), format!("h{}({param})", self.next_helper)),
            None => (format!("h{}", self.next_helper), format!("h{}", self.next_helper)),
        };
        if p.is_never() {
            self.rules.push(format!("{head} if {{\n\tfalse\n}}\n"));
        }
        for body in &p.0 {
            self.rules.push(rule(&head, body));
        }
        call
    }
}

/// `head if { body }`, one statement a line.
pub(super) fn rule(head: &str, body: &[String]) -> String {
    if body.is_empty() {
        return format!("{head} if {{\n\ttrue\n}}\n");
    }
    let mut out = format!("{head} if {{\n");
    for s in body {
        out.push('\t');
        out.push_str(s);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjunction_distributes_over_one_side_and_wraps_when_both_branch() {
        let mut h = Helpers::default();
        let a = Pred(vec![vec!["a".into()], vec!["b".into()]]);
        let c = h.and(a.clone(), Pred::stmt("c"));
        assert_eq!(c.0, vec![vec!["a".to_string(), "c".into()], vec!["b".into(), "c".into()]]);
        let both = h.and(a.clone(), a);
        assert_eq!(both.0.len(), 2, "one side went into a helper");
        assert_eq!(h.rules.len(), 2);
    }

    #[test]
    fn negation_of_a_binding_goes_through_a_helper() {
        let mut h = Helpers::default();
        assert_eq!(h.not(Pred::stmt("x == 1")), Pred::stmt("not x == 1"));
        assert_eq!(h.not(Pred::stmt("not x == 1")), Pred::stmt("x == 1"));
        let n = h.not(Pred::body(vec!["v1 := input.a".into(), "v1 > 2".into()]));
        assert_eq!(n, Pred::stmt("not h1"));
        assert_eq!(h.not(Pred::always()), Pred::never());
        assert_eq!(h.not(Pred::never()), Pred::always());
    }
}
