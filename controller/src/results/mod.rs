//! SELECT results in deep storage (`selectDestination: durableStorage`): the rows of a query
//! task as pages of `rowsPerPage` rows under `query-results/<taskId>/`, written while the final
//! stage is read ([`write`]), read back batch by batch for the statements API ([`read`]), and
//! deleted after a retention period ([`retention`]). A page is an Arrow IPC stream, so it is
//! read and converted to any `resultFormat` without holding it whole.

pub mod read;
pub mod retention;
pub mod run;
pub mod write;

use msq_engine::ids::is_valid_task_id;
use msq_engine::{MsqError, Result};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

/// The deep-storage folder holding every task's result pages.
pub const RESULTS_ROOT: &str = "query-results";

/// One page of results, as the statements API lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub id: u64,
    pub num_rows: u64,
    pub size_in_bytes: u64,
}

/// The folder of a task's pages; the id must be a valid task id (it becomes a path).
pub fn task_prefix(task_id: &str) -> Result<Path> {
    if !is_valid_task_id(task_id) {
        return Err(MsqError::Validation(format!("Invalid task id [{task_id}]")));
    }
    Ok(Path::from(format!("{RESULTS_ROOT}/{task_id}")))
}

/// Where page `page` of a task's results is.
pub fn page_path(task_id: &str, page: u64) -> Result<Path> {
    task_prefix(task_id)?;
    Ok(Path::from(format!("{RESULTS_ROOT}/{task_id}/page-{page:06}.arrow")))
}

/// How a stream of batches is cut into pages of `rows_per_page` rows: for a batch of `rows`
/// rows, the pieces `(offset, len, new_page)`, where `new_page` says the piece starts a page.
#[derive(Debug, Clone)]
pub struct PageCutter {
    rows_per_page: u64,
    /// Rows in the current page (none before the first row).
    in_page: Option<u64>,
}

impl PageCutter {
    /// Pages of `rows_per_page` rows (at least 1).
    pub fn new(rows_per_page: u64) -> Self {
        PageCutter {
            rows_per_page: rows_per_page.max(1),
            in_page: None,
        }
    }

    /// The pieces of the next batch of `rows` rows.
    pub fn cut(&mut self, rows: usize) -> Vec<(usize, usize, bool)> {
        let mut pieces = Vec::new();
        let mut offset = 0usize;
        while offset < rows {
            let (used, new_page) = match self.in_page {
                Some(n) if n < self.rows_per_page => (n, false),
                _ => (0, true),
            };
            let len = ((self.rows_per_page - used) as usize).min(rows - offset);
            pieces.push((offset, len, new_page));
            self.in_page = Some(used + len as u64);
            offset += len;
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_at_page_boundaries() {
        let mut c = PageCutter::new(10);
        assert_eq!(c.cut(4), vec![(0, 4, true)]);
        assert_eq!(c.cut(4), vec![(0, 4, false)]);
        assert_eq!(
            c.cut(25),
            vec![(0, 2, false), (2, 10, true), (12, 10, true), (22, 3, true)]
        );
        assert_eq!(c.cut(0), vec![]);
        assert_eq!(c.cut(7), vec![(0, 7, false)]);
        assert_eq!(c.cut(1), vec![(0, 1, true)]);
        let mut one = PageCutter::new(0);
        assert_eq!(one.cut(2), vec![(0, 1, true), (1, 1, true)]);
    }

    #[test]
    fn paths_name_only_valid_task_ids() {
        assert_eq!(
            page_path("query-abc", 3).unwrap().as_ref(),
            "query-results/query-abc/page-000003.arrow"
        );
        assert!(task_prefix("../x").is_err());
        assert!(task_prefix(".hidden").is_err());
        assert!(task_prefix("").is_err());
    }
}
