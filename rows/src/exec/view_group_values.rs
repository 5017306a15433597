//! Group ids for string-view keys that repeat. A segment's string columns are read as views
//! into their dictionary pages (`segment_scan`), so every row holding one dictionary entry
//! carries the same 16 view bytes; clustered columns hold the same value in long runs.
//! [`ViewKeyedGroupValues`] first numbers a batch's rows by the raw bits of their keys (a
//! view's 16 bytes, a primitive's value) and hands DataFusion's own group values only one row
//! per distinct pattern: strings are hashed and compared once per pattern, not once per row.
//!
//! Equal bits always mean equal values (a view's bytes are its length, prefix and the place
//! of its bytes in the batch's buffers), so rows sharing a pattern share a group. Equal values
//! with different bits (the same string in two dictionary pages) meet again in the inner group
//! values, which compare the strings themselves.

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::take;
use arrow::datatypes::*;
use datafusion::common::Result;
use datafusion::logical_expr::EmitTo;
use datafusion::physical_plan::aggregates::group_values::{new_group_values, GroupValues};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use hashbrown::HashMap;

/// Composite patterns are numbered through a direct table while the product of the columns'
/// distinct counts in a batch stays under this; above it the batch goes to the inner values.
const MAX_TABLE: usize = 1 << 16;

/// Batches handed straight to the inner group values after the first batch whose rows were
/// mostly distinct (numbering them first would be wasted work), before trying again; each
/// further such batch doubles it, up to [`MAX_BYPASS_BATCHES`].
const BYPASS_BATCHES: u32 = 16;

/// The longest bypass: keys that are distinct for good cost one batch in this many.
const MAX_BYPASS_BATCHES: u32 = 1024;

/// Whether a key column of this type can be numbered by its bits.
pub fn supported_key_type(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Utf8View
            | BinaryView
            | Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Date32
            | Date64
            | Timestamp(_, _)
            | Decimal128(_, _)
    )
}

/// Whether grouping on `types` gains from numbering by bits: some key is a string view and
/// every key's bits can be read.
pub fn worth_it(types: &[DataType]) -> bool {
    types.iter().all(supported_key_type)
        && types
            .iter()
            .any(|t| matches!(t, DataType::Utf8View | DataType::BinaryView))
}

/// Slots of [`ColumnIds`]'s direct-mapped cache in front of its map (a power of two).
const CACHE_SLOTS: usize = 512;

/// One key column's per-batch numbering: `ids[row]` is dense within the batch.
#[derive(Default)]
struct ColumnIds {
    map: HashMap<u128, u32>,
    /// Recently seen patterns by a cheap hash of their bits: most rows are found here
    /// without probing the map. An entry is (bits, id + 1); id 0 marks an empty slot.
    cache: Vec<(u128, u32)>,
    ids: Vec<u32>,
    distinct: u32,
    /// The first row of each id (kept for the first column only, which numbers single-key
    /// batches directly).
    first_rows: Vec<u32>,
}

impl ColumnIds {
    /// Numbers `len` rows by `bits(row)`, nulls sharing one id of their own.
    fn assign(&mut self, len: usize, nulls: Option<&NullBuffer>, keep_first: bool, bits: impl Fn(usize) -> u128) {
        self.map.clear();
        self.cache.clear();
        self.cache.resize(CACHE_SLOTS, (0, 0));
        self.ids.clear();
        self.ids.reserve(len);
        self.first_rows.clear();
        self.distinct = 0;
        let nulls = nulls.filter(|n| n.null_count() > 0);
        let mut null_id: Option<u32> = None;
        for row in 0..len {
            if nulls.is_some_and(|n| n.is_null(row)) {
                let id = match null_id {
                    Some(id) => id,
                    None => {
                        let id = self.next(row, keep_first);
                        null_id = Some(id);
                        id
                    }
                };
                self.ids.push(id);
                continue;
            }
            // No "same as the row before" shortcut: on columns that change often its
            // mispredicted branch costs more than the cache probe it saves.
            let b = bits(row);
            let slot = cache_slot(b);
            let id = match self.cache[slot] {
                (cb, id) if cb == b && id != 0 => id - 1,
                _ => self.miss(b, slot, row, keep_first),
            };
            self.ids.push(id);
        }
    }

    /// The id of `b` not found in the cache: from the map, or a new one; cached either way.
    #[cold]
    fn miss(&mut self, b: u128, slot: usize, row: usize, keep_first: bool) -> u32 {
        let id = match self.map.get(&b) {
            Some(id) => *id,
            None => {
                let id = self.next(row, keep_first);
                self.map.insert(b, id);
                id
            }
        };
        self.cache[slot] = (b, id + 1);
        id
    }

    fn next(&mut self, row: usize, keep_first: bool) -> u32 {
        let id = self.distinct;
        self.distinct += 1;
        if keep_first {
            self.first_rows.push(row as u32);
        }
        id
    }

    /// Numbers `col`'s rows; false for a type whose bits are not read.
    fn assign_array(&mut self, col: &dyn Array, keep_first: bool) -> bool {
        macro_rules! prim {
            ($t:ty, $conv:expr) => {{
                let a = col.as_primitive::<$t>();
                let v = a.values();
                let conv = $conv;
                self.assign(a.len(), a.nulls(), keep_first, |i| conv(v[i]));
            }};
        }
        use DataType::*;
        match col.data_type() {
            Utf8View => {
                let a = col.as_string_view();
                let v = a.views();
                self.assign(a.len(), a.nulls(), keep_first, |i| v[i]);
            }
            BinaryView => {
                let a = col.as_binary_view();
                let v = a.views();
                self.assign(a.len(), a.nulls(), keep_first, |i| v[i]);
            }
            Boolean => {
                let a = col.as_boolean();
                self.assign(a.len(), a.nulls(), keep_first, |i| a.value(i) as u128);
            }
            Int8 => prim!(Int8Type, |x: i8| x as u8 as u128),
            Int16 => prim!(Int16Type, |x: i16| x as u16 as u128),
            Int32 => prim!(Int32Type, |x: i32| x as u32 as u128),
            Int64 => prim!(Int64Type, |x: i64| x as u64 as u128),
            UInt8 => prim!(UInt8Type, |x: u8| x as u128),
            UInt16 => prim!(UInt16Type, |x: u16| x as u128),
            UInt32 => prim!(UInt32Type, |x: u32| x as u128),
            UInt64 => prim!(UInt64Type, |x: u64| x as u128),
            Float32 => prim!(Float32Type, |x: f32| x.to_bits() as u128),
            Float64 => prim!(Float64Type, |x: f64| x.to_bits() as u128),
            Date32 => prim!(Date32Type, |x: i32| x as u32 as u128),
            Date64 => prim!(Date64Type, |x: i64| x as u64 as u128),
            Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType, |x: i64| x as u64 as u128),
            Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType, |x: i64| x as u64 as u128),
            Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType, |x: i64| x as u64 as u128),
            Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType, |x: i64| x as u64 as u128),
            Decimal128(_, _) => prim!(Decimal128Type, |x: i128| x as u128),
            _ => return false,
        }
        true
    }
}

/// The cache slot of a pattern: its halves folded and multiplied, top bits.
#[inline]
fn cache_slot(bits: u128) -> usize {
    let folded = (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_SLOTS.trailing_zeros())) as usize
}

/// DataFusion's group values for a key schema, fed one row per distinct bit pattern of each
/// batch (see the module docs).
pub struct ViewKeyedGroupValues {
    inner: Box<dyn GroupValues>,
    columns: Vec<ColumnIds>,
    /// Each row's pattern (composite keys only; a single key uses its column's ids).
    row_patterns: Vec<u32>,
    /// The first row of each composite pattern.
    first_rows: Vec<u32>,
    table: Vec<u32>,
    pattern_groups: Vec<usize>,
    bypass: u32,
    /// The bypass the next mostly-distinct batch starts.
    next_bypass: u32,
}

impl ViewKeyedGroupValues {
    /// Group values for keys of `schema` (one field per key column).
    pub fn try_new(schema: SchemaRef) -> Result<Self> {
        let n = schema.fields().len();
        Ok(ViewKeyedGroupValues {
            inner: new_group_values(schema, &GroupOrdering::None)?,
            columns: (0..n).map(|_| ColumnIds::default()).collect(),
            row_patterns: Vec::new(),
            first_rows: Vec::new(),
            table: Vec::new(),
            pattern_groups: Vec::new(),
            bypass: 0,
            next_bypass: BYPASS_BATCHES,
        })
    }

    /// Numbers the batch's rows by pattern, leaving each row's pattern in `row_patterns` (or
    /// the first column's ids) and each pattern's first row in `first_rows` (or the first
    /// column's); false when the batch is better handed over whole.
    fn number(&mut self, cols: &[ArrayRef]) -> bool {
        let rows = cols.first().map_or(0, |c| c.len());
        let single = cols.len() == 1;
        for (c, ids) in cols.iter().zip(self.columns.iter_mut()) {
            if !ids.assign_array(c.as_ref(), single) {
                return false;
            }
        }
        if single {
            return true;
        }
        let mut size = 1usize;
        for ids in &self.columns {
            size = size.saturating_mul(ids.distinct.max(1) as usize);
        }
        if size > MAX_TABLE || size > rows.saturating_mul(4).max(64) {
            return false;
        }
        self.table.clear();
        self.table.resize(size, u32::MAX);
        self.row_patterns.clear();
        self.first_rows.clear();
        for row in 0..rows {
            let mut idx = 0usize;
            for ids in &self.columns {
                idx = idx * ids.distinct.max(1) as usize + ids.ids[row] as usize;
            }
            let slot = &mut self.table[idx];
            if *slot == u32::MAX {
                *slot = self.first_rows.len() as u32;
                self.first_rows.push(row as u32);
            }
            self.row_patterns.push(*slot);
        }
        true
    }
}

impl GroupValues for ViewKeyedGroupValues {
    fn intern(&mut self, cols: &[ArrayRef], groups: &mut Vec<usize>) -> Result<()> {
        let rows = cols.first().map_or(0, |c| c.len());
        if self.bypass > 0 || rows == 0 {
            self.bypass = self.bypass.saturating_sub(1);
            return self.inner.intern(cols, groups);
        }
        if !self.number(cols) {
            return self.inner.intern(cols, groups);
        }
        let single = cols.len() == 1;
        let (patterns, first_rows) = match single {
            true => (&self.columns[0].ids, &self.columns[0].first_rows),
            false => (&self.row_patterns, &self.first_rows),
        };
        if first_rows.len() * 2 > rows && rows >= 1024 {
            self.bypass = self.next_bypass;
            self.next_bypass = (self.next_bypass * 2).min(MAX_BYPASS_BATCHES);
        } else {
            self.next_bypass = BYPASS_BATCHES;
        }
        let indices = UInt32Array::from(first_rows.clone());
        let distinct: Vec<ArrayRef> = cols
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        self.inner.intern(&distinct, &mut self.pattern_groups)?;
        groups.clear();
        groups.extend(patterns.iter().map(|p| self.pattern_groups[*p as usize]));
        Ok(())
    }

    fn size(&self) -> usize {
        let scratch: usize = self
            .columns
            .iter()
            .map(|c| c.map.capacity() * 24 + c.cache.capacity() * 32 + (c.ids.capacity() + c.first_rows.capacity()) * 4)
            .sum();
        self.inner.size()
            + scratch
            + (self.row_patterns.capacity() + self.first_rows.capacity() + self.table.capacity()) * 4
            + self.pattern_groups.capacity() * 8
    }

    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.emit(emit_to)
    }

    fn clear_shrink(&mut self, num_rows: usize) {
        self.inner.clear_shrink(num_rows);
        for c in &mut self.columns {
            *c = ColumnIds::default();
        }
        self.row_patterns = Vec::new();
        self.first_rows = Vec::new();
        self.table = Vec::new();
        self.pattern_groups = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use arrow::array::{Int64Array, StringArray, StringViewArray};
    use arrow::compute::cast;
    use std::sync::Arc;

    /// Strings of which some are short (inline in the view) and some long, with nulls, read
    /// through a dictionary so that equal values share a view within a batch; across batches
    /// (as across dictionary pages) the same value has other views.
    fn strings(rng: &mut Rng, rows: usize, distinct: u64, sorted_runs: bool) -> ArrayRef {
        let mut values: Vec<Option<String>> = Vec::with_capacity(rows);
        let mut current = 0;
        for _ in 0..rows {
            if !sorted_runs || rng.below(20) == 0 {
                current = rng.below(distinct + 1);
            }
            values.push(match current {
                0 => None,
                k if k % 2 == 0 => Some(format!("s{k}")),
                k => Some(format!("a string longer than twelve bytes {k}")),
            });
        }
        let utf8 = StringArray::from(values);
        // Build through a dictionary, as the Parquet reader does for dictionary pages: equal
        // values share a view.
        let dict = cast(
            &utf8,
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        )
        .unwrap();
        cast(&dict, &DataType::Utf8View).unwrap()
    }

    fn group_ids_both(cols_batches: &[Vec<ArrayRef>], schema: SchemaRef) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let mut ours = ViewKeyedGroupValues::try_new(schema.clone()).unwrap();
        let mut theirs = new_group_values(schema, &GroupOrdering::None).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for cols in cols_batches {
            let mut g = Vec::new();
            ours.intern(cols, &mut g).unwrap();
            a.push(g);
            let mut g = Vec::new();
            theirs.intern(cols, &mut g).unwrap();
            b.push(g);
        }
        assert_eq!(ours.len(), theirs.len());
        let ea = ours.emit(EmitTo::All).unwrap();
        let eb = theirs.emit(EmitTo::All).unwrap();
        // Same groups, numbered alike (both number groups by first appearance).
        assert_eq!(ea.len(), eb.len());
        for (x, y) in ea.iter().zip(eb.iter()) {
            assert_eq!(x.as_ref(), y.as_ref());
        }
        (a, b)
    }

    #[test]
    fn single_view_key_numbers_groups_as_datafusion_does() {
        let mut rng = Rng(7);
        let schema = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8View, true)]));
        for sorted in [true, false] {
            let batches: Vec<Vec<ArrayRef>> = (0..6).map(|_| vec![strings(&mut rng, 5000, 40, sorted)]).collect();
            let (a, b) = group_ids_both(&batches, schema.clone());
            assert_eq!(a, b);
        }
    }

    #[test]
    fn two_keys_and_a_number_match_datafusion() {
        let mut rng = Rng(11);
        let schema = Arc::new(Schema::new(vec![
            Field::new("c", DataType::Utf8View, true),
            Field::new("n", DataType::Utf8View, true),
            Field::new("x", DataType::Int64, true),
        ]));
        let batches: Vec<Vec<ArrayRef>> = (0..5)
            .map(|_| {
                let x: Int64Array = (0..3000)
                    .map(|i| {
                        if i % 97 == 0 {
                            None
                        } else {
                            Some((rng.below(3) as i64) - 1)
                        }
                    })
                    .collect();
                vec![
                    strings(&mut rng, 3000, 30, true),
                    strings(&mut rng, 3000, 8, false),
                    Arc::new(x) as ArrayRef,
                ]
            })
            .collect();
        let (a, b) = group_ids_both(&batches, schema);
        assert_eq!(a, b);
    }

    #[test]
    fn mostly_distinct_batches_go_straight_through_and_still_match() {
        let mut rng = Rng(3);
        let schema = Arc::new(Schema::new(vec![Field::new("u", DataType::Utf8View, true)]));
        // Plain (not dictionary) views: every row its own pattern, values repeating across
        // batches.
        let batches: Vec<Vec<ArrayRef>> = (0..20)
            .map(|_| {
                let v: StringViewArray = (0..2048)
                    .map(|_| Some(format!("user number {}", rng.below(100_000))))
                    .collect();
                vec![Arc::new(v) as ArrayRef]
            })
            .collect();
        let (a, b) = group_ids_both(&batches, schema);
        assert_eq!(a, b);
    }

    #[test]
    fn only_view_keys_with_readable_bits_qualify() {
        assert!(worth_it(&[DataType::Utf8View]));
        assert!(worth_it(&[DataType::Utf8View, DataType::Int64]));
        assert!(!worth_it(&[DataType::Int64]));
        assert!(!worth_it(&[DataType::Utf8View, DataType::Utf8]));
    }
}
