//! Guards that keep one statement from taking the whole server down.
//!
//! * Planning (parsing, rewriting, DataFusion's logical and physical planning and
//!   optimisation, all of which recurse over expression trees) runs on the threads of a
//!   dedicated runtime with [`PLANNER_STACK_BYTES`] of stack, so that nothing accepted can
//!   overflow a stack there; a panic while planning becomes an error instead of killing a
//!   server thread.
//! * Statements whose expressions would nest deeper than [`MAX_EXPRESSION_DEPTH`] are refused
//!   with `QueryNotSupported` from their tokens, before any tree is built. Accepted trees are
//!   then shallow enough for workers, which evaluate them on ordinary (2 MiB) threads.
//! * [`MAX_PARSER_RECURSION`] is the SQL parser's own recursion limit (nested parentheses,
//!   subqueries, function calls, unary operators).

use msq_engine::{MsqError, Result};
use std::future::Future;
use std::sync::OnceLock;

/// Stack of each planner thread. Only the pages a statement touches are ever mapped.
pub const PLANNER_STACK_BYTES: usize = 256 << 20;

/// Deepest expression nesting accepted (an estimate from the tokens: operators of one
/// operand chain plus enclosing parentheses). Long chains such as 5,000 `OR`s are refused;
/// use `IN (...)` for long lists of alternatives.
pub const MAX_EXPRESSION_DEPTH: usize = 1_000;

/// The SQL parser's recursion limit (sqlparser's `Parser::with_recursion_limit`): nested
/// parentheses, subqueries and calls deeper than this are a parse error.
pub const MAX_PARSER_RECURSION: usize = 200;

/// Threads of the planner runtime (statements planned at the same time).
const PLANNER_THREADS: usize = 4;

fn planner_runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(PLANNER_THREADS)
                .max_blocking_threads(PLANNER_THREADS * 4)
                .thread_name("msq-planner")
                .thread_stack_size(PLANNER_STACK_BYTES)
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the planner runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| MsqError::Unknown(e.clone()))
}

/// Aborts the planning task when the caller stops waiting for it.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on a planner thread (large stack) and waits for it; a panic in `work` comes
/// back as `UnknownError` carrying the panic message.
pub async fn on_planner_stack<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let handle = planner_runtime()?.spawn(work);
    let _abort = AbortOnDrop(handle.abort_handle());
    match handle.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(MsqError::from_panic(PLANNING, e.into_panic())),
        Err(e) => Err(MsqError::Unknown(format!("Planning did not finish: {e}"))),
    }
}

/// What a panic while planning is reported as (`Planning panicked: <message>`).
const PLANNING: &str = "Planning";

/// Whether `e` is a panic caught while planning (a bug met by this statement, which the
/// server reports as a failed task rather than an error of the request).
pub fn is_planning_panic(e: &MsqError) -> bool {
    matches!(e, MsqError::Unknown(m) if m.starts_with(PLANNING) && m[PLANNING.len()..].starts_with(" panicked: "))
}

/// The error for a statement nested deeper than [`MAX_EXPRESSION_DEPTH`].
pub fn too_deep(depth: usize) -> MsqError {
    MsqError::QueryNotSupported(format!(
        "The statement nests expressions about {depth} levels deep, more than the {MAX_EXPRESSION_DEPTH} \
         msq-rs supports (long chains of AND, OR, +, || or UNION ALL count one level per operator). \
         Simplify the statement: use IN (...) instead of a chain of ORs, or split it up"
    ))
}

/// The error for a statement past the parser's recursion limit.
pub fn too_deep_for_parser() -> MsqError {
    MsqError::QueryNotSupported(format!(
        "The statement nests parentheses, subqueries or function calls more than {MAX_PARSER_RECURSION} \
         levels deep, more than msq-rs supports"
    ))
}

/// Whether a SQL parser error is the parser's recursion limit.
pub fn is_recursion_limit(message: &str) -> bool {
    let squashed: String = message
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    squashed.contains("recursionlimitexceeded")
}

/// A token class for [`DepthEstimator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthToken {
    /// `(` or `[`: a nested group.
    Open,
    /// `)` or `]`.
    Close,
    /// `,` or a clause keyword (`WHERE`, `WHEN`, ...): the start of a sibling operand.
    Separator,
    /// A binary or unary operator (`+`, `||`, `AND`, `NOT`, ...): one more level of the
    /// current operand's chain.
    Operator,
    /// `UNION`, `INTERSECT`, `EXCEPT`, `JOIN`: one more level of the whole group, whatever
    /// separators follow.
    Chain,
    /// Anything else.
    Other,
}

/// The running counts of one parenthesised group.
#[derive(Debug, Default, Clone, Copy)]
struct Group {
    /// Operators of the current operand.
    ops: usize,
    /// Deepest group inside the current operand.
    child: usize,
    /// Deepest finished operand.
    best: usize,
    /// Set operations and joins of the group.
    chain: usize,
}

impl Group {
    fn depth(&self) -> usize {
        self.chain + self.best.max(self.ops + self.child)
    }
}

/// Estimates how deep the expression trees of a statement will be from its tokens alone, in
/// one pass, constant time per token, with memory proportional to the parenthesis depth.
///
/// The estimate of a group is `1 + its joins and set operations + max over its operands of
/// (operators in the operand + the deepest group inside it)`: an upper bound on the tree
/// depth, since an operand with `k` operators is a tree at most `k` deep whose leaves are
/// the groups.
#[derive(Debug, Default)]
pub struct DepthEstimator {
    stack: Vec<Group>,
    top: Group,
    /// What the enclosing groups add: one level plus their chain and operators each (they
    /// do not change while a group inside them is open).
    base: usize,
    deepest: usize,
}

impl DepthEstimator {
    /// A fresh estimator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one token (constant time); returns the deepest estimate so far.
    pub fn push(&mut self, t: DepthToken) -> usize {
        match t {
            DepthToken::Open => {
                self.base += 1 + self.top.chain + self.top.ops;
                self.stack.push(self.top);
                self.top = Group::default();
            }
            DepthToken::Close => {
                let depth = 1 + self.top.depth();
                self.top = self.stack.pop().unwrap_or_default();
                self.base = self.base.saturating_sub(1 + self.top.chain + self.top.ops);
                self.top.child = self.top.child.max(depth);
            }
            DepthToken::Separator => {
                self.top.best = self.top.best.max(self.top.ops + self.top.child);
                self.top.ops = 0;
                self.top.child = 0;
            }
            DepthToken::Operator => self.top.ops += 1,
            DepthToken::Chain => self.top.chain += 1,
            DepthToken::Other => {}
        }
        self.deepest = self.deepest.max(self.base + self.top.depth());
        self.deepest
    }

    /// The deepest estimate seen.
    pub fn deepest(&self) -> usize {
        self.deepest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(tokens: &str) -> usize {
        let mut e = DepthEstimator::new();
        for c in tokens.chars() {
            e.push(match c {
                '(' => DepthToken::Open,
                ')' => DepthToken::Close,
                ',' | ';' => DepthToken::Separator,
                '+' => DepthToken::Operator,
                'U' => DepthToken::Chain,
                _ => DepthToken::Other,
            });
        }
        e.deepest()
    }

    #[test]
    fn depth_estimates() {
        assert_eq!(estimate("1"), 0);
        assert_eq!(estimate("1+1+1"), 2);
        assert_eq!(estimate("((((1))))"), 4);
        assert_eq!(estimate("f(1+1, 1+1+1+1)"), 4);
        assert_eq!(estimate("1+1, 1+1+1, 1"), 2);
        assert_eq!(estimate("(1+(1+1))+1"), 5);
        // An IN list is flat however long.
        let list = format!("x+({})", vec!["1"; 10_000].join(","));
        assert_eq!(estimate(&list), 2);
        // Separators end an operand; chains (UNION, JOIN) do not.
        assert_eq!(estimate("1+1;1+1"), 1);
        assert_eq!(estimate("1+1U;1+1U;1+1"), 3);
        assert_eq!(estimate("1+1U1+1"), 3);
        assert_eq!(estimate("U;U;U;1"), 3);
        // Unbalanced input does not panic.
        assert_eq!(estimate(")))((("), 3);
    }

    #[tokio::test]
    async fn planner_stack_runs_work_and_catches_panics() {
        assert_eq!(on_planner_stack(async { Ok(7) }).await.unwrap(), 7);
        let e = on_planner_stack(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(e.error_code(), "UnknownError");
        assert!(e.to_string().contains("boom"), "{e}");
        assert!(is_planning_panic(&e));
        assert!(!is_planning_panic(&MsqError::Unknown("boom".into())));
        // Deep recursion that would overflow a 2 MiB stack.
        fn down(n: usize) -> usize {
            let pad = std::hint::black_box([0u8; 1024]);
            if n == 0 {
                pad[0] as usize
            } else {
                down(n - 1) + std::hint::black_box(pad[n % 1024]) as usize
            }
        }
        assert_eq!(on_planner_stack(async { Ok(down(20_000)) }).await.unwrap(), 0);
    }
}
