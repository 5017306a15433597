//! Sorting of record batches and k-way merging of sorted runs.
//!
//! Comparisons use arrow's row format: the sort columns of every batch are converted once
//! into byte strings that compare like the sort order, so the merge compares bytes. The
//! merge keeps a binary heap of run cursors ordered by `(current row, run number)` — which
//! makes it stable — and assembles output batches with `arrow::compute::interleave`.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{interleave, take_record_batch};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};

use msq_engine::error::{MsqError, Result};

use msq_engine::sort::SortColumn;

/// A fallible stream of record batches.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// A row converter for the sort columns of `schema`, whose rows compare like `sort`.
pub fn sort_row_converter(schema: &Schema, sort: &[SortColumn]) -> Result<RowConverter> {
    let fields = sort
        .iter()
        .map(|c| {
            let field = schema.fields().get(c.index).ok_or_else(|| {
                MsqError::Unknown(format!(
                    "sort column {} out of range for a schema of {} columns",
                    c.index,
                    schema.fields().len()
                ))
            })?;
            Ok(SortField::new_with_options(field.data_type().clone(), c.options()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RowConverter::new(fields)?)
}

/// The sort columns of `batch`.
fn sort_arrays(batch: &RecordBatch, sort: &[SortColumn]) -> Result<Vec<ArrayRef>> {
    sort.iter()
        .map(|c| {
            if c.index < batch.num_columns() {
                Ok(batch.column(c.index).clone())
            } else {
                Err(MsqError::Unknown(format!(
                    "sort column {} out of range for a batch of {} columns",
                    c.index,
                    batch.num_columns()
                )))
            }
        })
        .collect()
}

/// Sorts one batch by `sort` (lexicographically, stable: equal rows keep their order).
pub fn sort_batch(batch: &RecordBatch, sort: &[SortColumn]) -> Result<RecordBatch> {
    let n = batch.num_rows();
    if sort.is_empty() || n <= 1 {
        return Ok(batch.clone());
    }
    if n > u32::MAX as usize {
        return Err(MsqError::Unknown(format!("cannot sort a batch of {n} rows")));
    }
    let converter = sort_row_converter(batch.schema_ref(), sort)?;
    let rows = converter.convert_columns(&sort_arrays(batch, sort)?)?;
    if (1..n).all(|i| rows.row(i - 1) <= rows.row(i)) {
        return Ok(batch.clone());
    }
    let mut idx: Vec<u32> = (0..n as u32).collect();
    idx.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    Ok(take_record_batch(batch, &UInt32Array::from(idx))?)
}

/// Sorts the rows of `batches` (all of `schema`) by `sort` into batches of at most
/// `batch_size` rows, without concatenating them first. Stable: equal rows keep their order
/// (batch by batch, row by row). Rows already in order come back as zero-copy slices.
pub fn sort_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    sort: &[SortColumn],
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let batch_size = batch_size.max(1);
    let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    if batches.len() > u32::MAX as usize || batches.iter().any(|b| b.num_rows() > u32::MAX as usize) {
        return Err(MsqError::Unknown(format!(
            "cannot sort {total} rows in {} batches",
            batches.len()
        )));
    }
    let rechunk = |batches: &[&RecordBatch]| -> Vec<RecordBatch> {
        let mut out = Vec::new();
        for b in batches {
            let mut off = 0;
            while off < b.num_rows() {
                let len = batch_size.min(b.num_rows() - off);
                out.push(if off == 0 && len == b.num_rows() {
                    (*b).clone()
                } else {
                    b.slice(off, len)
                });
                off += len;
            }
        }
        out
    };
    if sort.is_empty() || total <= 1 {
        return Ok(rechunk(&batches));
    }
    let converter = sort_row_converter(schema, sort)?;
    let rows: Vec<Rows> = batches
        .iter()
        .map(|b| Ok(converter.convert_columns(&sort_arrays(b, sort)?)?))
        .collect::<Result<_>>()?;
    let mut idx: Vec<(u32, u32)> = Vec::with_capacity(total);
    for (bi, b) in batches.iter().enumerate() {
        idx.extend((0..b.num_rows() as u32).map(|r| (bi as u32, r)));
    }
    let key = |&(b, r): &(u32, u32)| rows[b as usize].row(r as usize);
    if idx.windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
        return Ok(rechunk(&batches));
    }
    idx.sort_by(|a, b| key(a).cmp(&key(b)));
    drop(rows);
    let arrays: Vec<Vec<&dyn Array>> = (0..schema.fields().len())
        .map(|c| batches.iter().map(|b| b.column(c).as_ref()).collect())
        .collect();
    let mut out = Vec::with_capacity(total.div_ceil(batch_size));
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(batch_size);
    for chunk in idx.chunks(batch_size) {
        pairs.clear();
        pairs.extend(chunk.iter().map(|&(b, r)| (b as usize, r as usize)));
        let columns = arrays
            .iter()
            .map(|a| interleave(a, &pairs))
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(pairs.len()));
        out.push(RecordBatch::try_new_with_options(
            Arc::clone(schema),
            columns,
            &options,
        )?);
    }
    Ok(out)
}

/// Merges `runs`, each already sorted by `sort`, into one sorted stream of batches of at
/// most `batch_size` rows. Stable: equal rows come in run order (run 0 first), and in their
/// order within a run. Zero runs give an empty stream; one run (or an empty `sort`, which
/// makes all rows equal) is passed through, with batches larger than `batch_size` sliced.
/// The stream ends after the first error.
pub fn merge_sorted_runs(
    schema: SchemaRef,
    runs: Vec<BatchIter>,
    sort: &[SortColumn],
    batch_size: usize,
) -> Result<BatchIter> {
    let batch_size = batch_size.max(1);
    if runs.is_empty() {
        return Ok(Box::new(std::iter::empty()));
    }
    if runs.len() == 1 || sort.is_empty() {
        // Validate the sort columns all the same, so bad input fails alike on every path.
        sort_row_converter(&schema, sort)?;
        let chained = runs.into_iter().flatten();
        return Ok(Box::new(Rechunk {
            inner: Box::new(chained),
            batch_size,
            current: None,
            offset: 0,
            done: false,
        }));
    }
    let converter = sort_row_converter(&schema, sort)?;
    let cursors = runs
        .into_iter()
        .map(|iter| Cursor {
            iter,
            batch: None,
            rows: None,
            pos: 0,
            slot: 0,
        })
        .collect();
    Ok(Box::new(MergeIter {
        schema,
        sort: sort.to_vec(),
        converter,
        cursors,
        heap: Vec::new(),
        batch_size,
        pending: Vec::new(),
        indices: Vec::with_capacity(batch_size),
        started: false,
        done: false,
    }))
}

/// Passes batches through, slicing those larger than `batch_size` and dropping empty ones.
struct Rechunk {
    inner: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    batch_size: usize,
    current: Option<RecordBatch>,
    offset: usize,
    done: bool,
}

impl Iterator for Rechunk {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(b) = &self.current {
                let n = b.num_rows();
                if self.offset < n {
                    let len = self.batch_size.min(n - self.offset);
                    let out = if self.offset == 0 && len == n {
                        b.clone()
                    } else {
                        b.slice(self.offset, len)
                    };
                    self.offset += len;
                    return Some(Ok(out));
                }
                self.current = None;
            }
            match self.inner.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(b)) => {
                    self.current = Some(b);
                    self.offset = 0;
                }
            }
        }
    }
}

/// One run of the merge: its current batch, the batch's rows and the next row.
struct Cursor {
    iter: BatchIter,
    batch: Option<RecordBatch>,
    rows: Option<Rows>,
    pos: usize,
    /// Index of `batch` in the merge's `pending` batches.
    slot: usize,
}

struct MergeIter {
    schema: SchemaRef,
    sort: Vec<SortColumn>,
    converter: RowConverter,
    cursors: Vec<Cursor>,
    /// Min-heap of the indices of the cursors with rows left.
    heap: Vec<usize>,
    batch_size: usize,
    /// Batches the output being built takes rows from.
    pending: Vec<RecordBatch>,
    /// `(pending batch, row)` of every output row so far.
    indices: Vec<(usize, usize)>,
    started: bool,
    done: bool,
}

impl MergeIter {
    /// Loads the next non-empty batch of cursor `c`; `false` when the run is exhausted.
    fn advance(&mut self, c: usize) -> Result<bool> {
        loop {
            match self.cursors[c].iter.next() {
                None => {
                    let cur = &mut self.cursors[c];
                    cur.batch = None;
                    cur.rows = None;
                    return Ok(false);
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(batch)) => {
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let rows = self.converter.convert_columns(&sort_arrays(&batch, &self.sort)?)?;
                    let cur = &mut self.cursors[c];
                    cur.slot = self.pending.len();
                    self.pending.push(batch.clone());
                    cur.batch = Some(batch);
                    cur.rows = Some(rows);
                    cur.pos = 0;
                    return Ok(true);
                }
            }
        }
    }

    fn start(&mut self) -> Result<()> {
        self.started = true;
        for c in 0..self.cursors.len() {
            if self.advance(c)? {
                self.heap.push(c);
            }
        }
        for i in (0..self.heap.len() / 2).rev() {
            sift_down(&mut self.heap, &self.cursors, i);
        }
        Ok(())
    }

    /// Moves rows into `indices` until the batch is full or the runs are exhausted.
    fn fill(&mut self) -> Result<()> {
        while self.indices.len() < self.batch_size {
            let Some(&top) = self.heap.first() else {
                return Ok(());
            };
            let cur = &mut self.cursors[top];
            self.indices.push((cur.slot, cur.pos));
            cur.pos += 1;
            let n = cur.batch.as_ref().map_or(0, RecordBatch::num_rows);
            if cur.pos >= n && !self.advance(top)? {
                let last = self.heap.len() - 1;
                self.heap.swap(0, last);
                self.heap.pop();
            }
            sift_down(&mut self.heap, &self.cursors, 0);
        }
        Ok(())
    }

    /// Builds the output batch from `indices` and starts a new one.
    fn flush(&mut self) -> Result<RecordBatch> {
        let columns = (0..self.schema.fields().len())
            .map(|c| {
                let arrays: Vec<&dyn Array> = self.pending.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&arrays, &self.indices)
            })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.indices.len()));
        let out = RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)?;
        self.indices.clear();
        self.pending.clear();
        for &c in &self.heap {
            let cur = &mut self.cursors[c];
            if let Some(b) = &cur.batch {
                cur.slot = self.pending.len();
                self.pending.push(b.clone());
            }
        }
        Ok(out)
    }

    /// With one run left and nothing pending, its rows go out as zero-copy slices.
    fn tail_slice(&mut self) -> Result<Option<RecordBatch>> {
        let c = self.heap[0];
        let cur = &mut self.cursors[c];
        let Some(batch) = cur.batch.as_ref() else {
            return Ok(None);
        };
        let len = self.batch_size.min(batch.num_rows() - cur.pos);
        let out = batch.slice(cur.pos, len);
        cur.pos += len;
        if cur.pos >= batch.num_rows() {
            self.pending.clear();
            if !self.advance(c)? {
                self.heap.clear();
            }
        }
        Ok(Some(out))
    }

    fn step(&mut self) -> Result<Option<RecordBatch>> {
        if !self.started {
            self.start()?;
        }
        if self.indices.is_empty() && self.heap.len() == 1 {
            return self.tail_slice();
        }
        self.fill()?;
        if self.indices.is_empty() {
            return Ok(None);
        }
        self.flush().map(Some)
    }
}

impl Iterator for MergeIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Whether cursor `a` comes before cursor `b`: smaller row, or equal row and earlier run.
#[inline]
fn before(cursors: &[Cursor], a: usize, b: usize) -> bool {
    let (ca, cb) = (&cursors[a], &cursors[b]);
    match (&ca.rows, &cb.rows) {
        (Some(ra), Some(rb)) => match ra.row(ca.pos).cmp(&rb.row(cb.pos)) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => a < b,
        },
        // Exhausted cursors are never in the heap; order them last all the same.
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => a < b,
    }
}

fn sift_down(heap: &mut [usize], cursors: &[Cursor], mut i: usize) {
    let n = heap.len();
    loop {
        let l = 2 * i + 1;
        if l >= n {
            return;
        }
        let r = l + 1;
        let child = if r < n && before(cursors, heap[r], heap[l]) {
            r
        } else {
            l
        };
        if before(cursors, heap[child], heap[i]) {
            heap.swap(i, child);
            i = child;
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::compute::concat_batches;
    use arrow::datatypes::{DataType, Field, TimeUnit};
    use msq_engine::counters::batch_memory_size;

    use crate::test_rng::Rng;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("run", DataType::Int32, false),
            Field::new("seq", DataType::Int64, false),
        ]))
    }

    /// Low-cardinality random rows (many ties) with ~10% nulls per key column.
    fn random_batch(rng: &mut Rng, run: i32, rows: usize) -> RecordBatch {
        let mut i = Vec::new();
        let mut s = Vec::new();
        let mut t = Vec::new();
        for _ in 0..rows {
            i.push((rng.below(10) != 0).then(|| rng.below(7) as i64 - 3));
            s.push((rng.below(10) != 0).then(|| ["", "a", "ab", "b", "é", "zz"][rng.below(6) as usize].to_string()));
            t.push((rng.below(10) != 0).then(|| 1_700_000_000_000 + rng.below(5) as i64 * 3_600_000));
        }
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(i)),
                Arc::new(StringArray::from(s)),
                Arc::new(TimestampMillisecondArray::from(t)),
                Arc::new(Int32Array::from(vec![run; rows])),
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            ],
        )
        .unwrap()
    }

    /// Splits a batch into pieces of random sizes, some empty.
    fn split(rng: &mut Rng, batch: &RecordBatch) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut off = 0;
        while off < batch.num_rows() {
            let len = (rng.below(60) as usize).min(batch.num_rows() - off);
            out.push(batch.slice(off, len));
            off += len;
        }
        out
    }

    fn iter_of(batches: Vec<RecordBatch>) -> BatchIter {
        Box::new(batches.into_iter().map(Ok))
    }

    fn collect(it: BatchIter, batch_size: usize) -> RecordBatch {
        let batches: Vec<RecordBatch> = it.map(|b| b.unwrap()).collect();
        assert!(batches.iter().all(|b| b.num_rows() <= batch_size && b.num_rows() > 0));
        concat_batches(&schema(), &batches).unwrap()
    }

    fn sort_order() -> Vec<SortColumn> {
        vec![
            SortColumn::asc(1),
            SortColumn {
                index: 0,
                descending: true,
                nulls_first: false,
            },
            SortColumn {
                index: 2,
                descending: false,
                nulls_first: false,
            },
        ]
    }

    #[test]
    fn merge_matches_concat_and_sort() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for case in 0..30 {
            let sort = if case % 3 == 0 {
                vec![SortColumn::desc(2), SortColumn::asc(0)]
            } else {
                sort_order()
            };
            let runs_n = 1 + rng.below(6) as usize;
            let mut sorted_runs = Vec::new();
            for r in 0..runs_n {
                let rows = if rng.below(5) == 0 { 0 } else { rng.below(400) as usize };
                sorted_runs.push(sort_batch(&random_batch(&mut rng, r as i32, rows), &sort).unwrap());
            }
            let all = concat_batches(&schema(), &sorted_runs).unwrap();
            let expected = sort_batch(&all, &sort).unwrap();
            for batch_size in [1, 7, 64, 10_000] {
                let runs: Vec<BatchIter> = sorted_runs.iter().map(|b| iter_of(split(&mut rng, b))).collect();
                let merged = collect(
                    merge_sorted_runs(schema(), runs, &sort, batch_size).unwrap(),
                    batch_size,
                );
                assert_eq!(merged, expected, "case {case} batch size {batch_size}");
            }
        }
    }

    #[test]
    fn sort_batches_matches_concat_and_sort() {
        let mut rng = Rng(11);
        for rows in [0usize, 1, 7, 300, 2_000] {
            let all = random_batch(&mut rng, 0, rows);
            let pieces = split(&mut rng, &all);
            let sort = sort_order();
            for batch_size in [1usize, 64, 5_000] {
                let got = sort_batches(&schema(), &pieces, &sort, batch_size).unwrap();
                assert!(got.iter().all(|b| b.num_rows() <= batch_size && b.num_rows() > 0));
                let got = concat_batches(&schema(), &got).unwrap();
                let want = sort_batch(&concat_batches(&schema(), &pieces).unwrap(), &sort).unwrap();
                assert_eq!(got, want, "rows={rows} batch_size={batch_size}");
            }
        }
        // Already sorted input comes back as slices of the same buffers.
        let sorted = sort_batch(&random_batch(&mut rng, 0, 500), &sort_order()).unwrap();
        let got = sort_batches(&schema(), std::slice::from_ref(&sorted), &sort_order(), 100).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(concat_batches(&schema(), &got).unwrap(), sorted);
        assert!(batch_memory_size(&got[0]) < sorted.get_array_memory_size() / 2);
        assert!(batch_memory_size(&sorted) <= sorted.get_array_memory_size());
    }

    #[test]
    fn sort_batch_orders_and_is_stable() {
        let mut rng = Rng(42);
        let batch = random_batch(&mut rng, 0, 2000);
        let sort = sort_order();
        let sorted = sort_batch(&batch, &sort).unwrap();
        assert_eq!(sorted.num_rows(), 2000);
        let conv = sort_row_converter(&schema(), &sort).unwrap();
        let rows = conv.convert_columns(&sort_arrays(&sorted, &sort).unwrap()).unwrap();
        let seq = sorted.column(4).as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 1..sorted.num_rows() {
            match rows.row(i - 1).cmp(&rows.row(i)) {
                Ordering::Less => {}
                Ordering::Equal => assert!(seq.value(i - 1) < seq.value(i), "stable"),
                Ordering::Greater => panic!("unsorted at {i}"),
            }
        }
        // Nulls first on the string column, descending ints with nulls last inside ties.
        let s = sorted.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert!(s.is_null(0));
        // Sorting a sorted batch or with no columns changes nothing.
        assert_eq!(sort_batch(&sorted, &sort).unwrap(), sorted);
        assert_eq!(sort_batch(&batch, &[]).unwrap(), batch);
        assert!(sort_batch(&batch, &[SortColumn::asc(9)]).is_err());
    }

    #[test]
    fn zero_and_empty_runs() {
        let sort = sort_order();
        assert_eq!(merge_sorted_runs(schema(), vec![], &sort, 10).unwrap().count(), 0);
        let runs: Vec<BatchIter> = vec![
            iter_of(vec![]),
            iter_of(vec![random_batch(&mut Rng(1), 0, 0)]),
            iter_of(vec![]),
        ];
        assert_eq!(merge_sorted_runs(schema(), runs, &sort, 10).unwrap().count(), 0);
        // One non-empty run among empty ones.
        let b = sort_batch(&random_batch(&mut Rng(3), 1, 25), &sort).unwrap();
        let runs: Vec<BatchIter> = vec![iter_of(vec![]), iter_of(vec![b.clone()]), iter_of(vec![])];
        assert_eq!(collect(merge_sorted_runs(schema(), runs, &sort, 10).unwrap(), 10), b);
    }

    #[test]
    fn single_run_and_no_sort_pass_through() {
        let mut rng = Rng(7);
        let b = sort_batch(&random_batch(&mut rng, 0, 100), &sort_order()).unwrap();
        let out: Vec<RecordBatch> = merge_sorted_runs(schema(), vec![iter_of(vec![b.clone()])], &sort_order(), 30)
            .unwrap()
            .map(|x| x.unwrap())
            .collect();
        assert_eq!(
            out.iter().map(|x| x.num_rows()).collect::<Vec<_>>(),
            vec![30, 30, 30, 10]
        );
        assert_eq!(concat_batches(&schema(), &out).unwrap(), b);
        // No sort columns: runs are concatenated in order.
        let a = random_batch(&mut rng, 0, 10);
        let c = random_batch(&mut rng, 1, 10);
        let runs: Vec<BatchIter> = vec![iter_of(vec![a.clone()]), iter_of(vec![c.clone()])];
        let merged = collect(merge_sorted_runs(schema(), runs, &[], 8).unwrap(), 8);
        assert_eq!(merged, concat_batches(&schema(), &[a, c]).unwrap());
    }

    #[test]
    fn errors_end_the_stream() {
        let sort = sort_order();
        let b = sort_batch(&random_batch(&mut Rng(9), 0, 50), &sort).unwrap();
        let failing: BatchIter = Box::new(
            vec![
                Ok(b.slice(0, 10)),
                Err(MsqError::Io("disk gone".into())),
                Ok(b.slice(10, 10)),
            ]
            .into_iter(),
        );
        let runs: Vec<BatchIter> = vec![iter_of(vec![b.clone()]), failing];
        let out: Vec<Result<RecordBatch>> = merge_sorted_runs(schema(), runs, &sort, 1000).unwrap().collect();
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0], Err(MsqError::Io(_))));
        // Single-run path too.
        let failing: BatchIter =
            Box::new(vec![Ok(b.clone()), Err(MsqError::Io("x".into())), Ok(b.clone())].into_iter());
        let out: Vec<Result<RecordBatch>> = merge_sorted_runs(schema(), vec![failing], &sort, 1000)
            .unwrap()
            .collect();
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
        // Bad sort columns fail up front.
        assert!(merge_sorted_runs(
            schema(),
            vec![iter_of(vec![]), iter_of(vec![])],
            &[SortColumn::asc(5)],
            10
        )
        .is_err());
    }

    #[test]
    fn merges_int64_and_timestamps_exactly() {
        // Disjoint interleaved runs of one int column: the merge yields 0..n in order.
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ]));
        let runs: Vec<BatchIter> = (0..4i64)
            .map(|r| {
                let v: Vec<i64> = (0..1000).map(|i| i * 4 + r).collect();
                let t: Vec<i64> = v.iter().map(|x| -x * 1000).collect();
                let b = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Int64Array::from(v)),
                        Arc::new(TimestampMillisecondArray::from(t)),
                    ],
                )
                .unwrap();
                let pieces: Vec<RecordBatch> = (0..10).map(|p| b.slice(p * 100, 100)).collect();
                iter_of(pieces)
            })
            .collect();
        let merged: Vec<RecordBatch> = merge_sorted_runs(schema.clone(), runs, &[SortColumn::asc(0)], 333)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let all = concat_batches(&schema, &merged).unwrap();
        let v = all.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(v.values().to_vec(), (0..4000).collect::<Vec<i64>>());
        // The timestamps descend where the ints ascend: merging by descending time gives
        // the same order.
        let runs: Vec<BatchIter> = (0..3)
            .map(|r| {
                let idx: Vec<u32> = (0..4000u32).filter(|i| i % 3 == r).collect();
                iter_of(vec![take_record_batch(&all, &UInt32Array::from(idx)).unwrap()])
            })
            .collect();
        let by_time: Vec<RecordBatch> = merge_sorted_runs(schema.clone(), runs, &[SortColumn::desc(1)], 1000)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(concat_batches(&schema, &by_time).unwrap(), all);
    }
}
