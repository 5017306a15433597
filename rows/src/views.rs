//! String views and the buffers behind them. A datasource's strings are read as views into
//! their segment's dictionary pages (`exec::segment_scan`); a batch that is filtered, sorted
//! or split by partition still points into those whole pages. Before such a batch is held or
//! sent (a shuffle buffer, a spill file, a frame over HTTP, which carry every buffer a view
//! array points into), [`compact`] copies the bytes its views use into buffers of its own.

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use msq_engine::counters::bytes_outside_views;
use std::sync::Arc;

/// Buffers this much larger than the bytes their views use are compacted (below it, a copy
/// costs more than it saves).
const SLACK_BYTES: usize = 32 << 10;

/// `batch` with every view column whose buffers are more than twice (plus
/// [`SLACK_BYTES`]) what its views use rebuilt over compact buffers; other columns as they
/// are.
pub fn compact(batch: RecordBatch) -> RecordBatch {
    let mut changed = false;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match compacted(c) {
            Some(new) => {
                changed = true;
                new
            }
            None => c.clone(),
        })
        .collect();
    if !changed {
        return batch;
    }
    RecordBatch::try_new(batch.schema(), columns).unwrap_or(batch)
}

/// `c` over compact buffers, when it is a view column wasting more than the slack.
fn compacted(c: &ArrayRef) -> Option<ArrayRef> {
    let wasteful = |views: &[u128], buffers: &[arrow::buffer::Buffer]| {
        let held: usize = buffers.iter().map(|b| b.len()).sum();
        held > bytes_outside_views(views).saturating_mul(2) + SLACK_BYTES
    };
    match c.data_type() {
        DataType::Utf8View => {
            let a = c.as_string_view();
            wasteful(a.views(), a.data_buffers()).then(|| Arc::new(a.gc()) as ArrayRef)
        }
        DataType::BinaryView => {
            let a = c.as_binary_view();
            wasteful(a.views(), a.data_buffers()).then(|| Arc::new(a.gc()) as ArrayRef)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringViewArray;
    use arrow::datatypes::{Field, Schema};

    fn batch_of(a: StringViewArray) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8View, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(a)]).unwrap()
    }

    #[test]
    fn a_small_slice_of_a_large_buffer_gets_its_own_buffer() {
        let long: Vec<Option<String>> = (0..10_000)
            .map(|i| Some(format!("a value long enough {i:08}")))
            .collect();
        let all = StringViewArray::from_iter(long.iter().map(|s| s.as_deref()));
        let before: usize = all.data_buffers().iter().map(|b| b.len()).sum();
        let slice = batch_of(all.slice(10, 3));
        let compacted = compact(slice.clone());
        let a = compacted.column(0).as_string_view();
        let after: usize = a.data_buffers().iter().map(|b| b.len()).sum();
        assert!(before > 250_000 && after < 200, "{before} → {after}");
        assert_eq!(
            (0..3).map(|i| a.value(i).to_string()).collect::<Vec<_>>(),
            long[10..13].iter().map(|s| s.clone().unwrap()).collect::<Vec<_>>()
        );
        // The measure the budgets use counts what the views use, before and after.
        let measured = msq_engine::counters::batch_memory_size(&slice);
        assert_eq!(measured, msq_engine::counters::batch_memory_size(&compacted));
        assert_eq!(measured, 3 * 16 + 3 * 28);
    }

    #[test]
    fn short_values_and_dense_buffers_are_left_alone() {
        let short = batch_of(StringViewArray::from_iter_values((0..5000).map(|i| format!("s{i}"))));
        assert!(Arc::ptr_eq(short.column(0), compact(short.clone()).column(0)));
        let dense = batch_of(StringViewArray::from_iter_values(
            (0..5000).map(|i| format!("a value long enough {i:08}")),
        ));
        assert!(Arc::ptr_eq(dense.column(0), compact(dense.clone()).column(0)));
    }
}
