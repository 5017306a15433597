//! Sort orders of the shuffle and of segments: which columns, which direction, where nulls go.

use arrow_schema::SortOptions;
use serde::{Deserialize, Serialize};

/// One column of a sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SortColumn {
    /// Index of the column in the schema.
    pub index: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

impl SortColumn {
    /// Ascending with nulls first (Druid's order).
    pub fn asc(index: usize) -> Self {
        SortColumn {
            index,
            descending: false,
            nulls_first: true,
        }
    }

    /// Descending with nulls last.
    pub fn desc(index: usize) -> Self {
        SortColumn {
            index,
            descending: true,
            nulls_first: false,
        }
    }

    /// Arrow's sort options for this column.
    pub fn options(&self) -> SortOptions {
        SortOptions {
            descending: self.descending,
            nulls_first: self.nulls_first,
        }
    }
}
