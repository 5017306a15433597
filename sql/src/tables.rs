//! Table providers the planner sees: `EXTERN` inputs and datasources (published segments).

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use msq_engine::granularity::Interval;
use msq_engine::input::{InputFormat, InputSource};
use msq_engine::metadata::{visible_parts, SegmentRecord};
use msq_engine::signature::{time_data_type, ColumnType, Signature, TIME_COLUMN};
use msq_rows::exec::{ExternalScanExec, SegmentScanExec, SegmentSlice};
use std::sync::Arc;

/// An `EXTERN(...)` input.
#[derive(Debug)]
pub struct ExternTable {
    pub source: InputSource,
    pub format: InputFormat,
    pub signature: Signature,
    pub partitions: usize,
}

#[async_trait]
impl TableProvider for ExternTable {
    fn schema(&self) -> SchemaRef {
        self.signature.to_arrow_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ExternalScanExec::new(
            self.source.clone(),
            self.format.clone(),
            self.signature.clone(),
            self.partitions,
            projection.cloned(),
            0,
        )?))
    }
}

/// The Arrow type a datasource column of Druid type `t` is read as. Strings are read as
/// `Utf8View`: a segment's dictionary-encoded string pages become views into the dictionary
/// instead of copies of every value, and DataFusion groups, compares and hashes views faster.
/// Multi-value (lists) and JSON columns keep their storage types.
pub fn segment_arrow_type(name: &str, t: &ColumnType) -> DataType {
    if name == TIME_COLUMN {
        return time_data_type();
    }
    match t.to_arrow() {
        DataType::Utf8 => DataType::Utf8View,
        other => other,
    }
}

/// A datasource: the used segments of one dataSource at planning time.
#[derive(Debug)]
pub struct DatasourceTable {
    pub name: String,
    pub segments: Vec<SegmentRecord>,
    pub partitions: usize,
    schema: SchemaRef,
}

impl DatasourceTable {
    /// A table over `segments` (used segments of `name`), with [`datasource_schema`]'s columns.
    pub fn new(name: String, segments: Vec<SegmentRecord>, partitions: usize) -> Self {
        let schema = datasource_schema(&segments);
        DatasourceTable {
            name,
            segments,
            partitions,
            schema,
        }
    }
}

/// The columns of a datasource with these used segments, as the planner sees them: the union
/// of the segments' signatures, newest segments first, `__time` first (not nullable).
pub fn datasource_schema(segments: &[SegmentRecord]) -> SchemaRef {
    let mut sorted: Vec<&SegmentRecord> = segments.iter().collect();
    sorted.sort_by(|a, b| b.id.version.cmp(&a.id.version));
    let mut fields: Vec<Field> = vec![Field::new(TIME_COLUMN, time_data_type(), false)];
    for seg in sorted {
        for c in &seg.signature.0 {
            if !fields.iter().any(|f| f.name() == &c.name) {
                fields.push(match c.column_type.is_json() {
                    true => msq_engine::signature::json_field(&c.name),
                    false => Field::new(&c.name, segment_arrow_type(&c.name, &c.column_type), true),
                });
            }
        }
    }
    Arc::new(Schema::new(fields))
}

#[async_trait]
impl TableProvider for DatasourceTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mut range = Interval::eternity();
        for f in filters {
            if let Some(r) = time_range(f) {
                range = intersect(range, r);
            }
        }
        let mut slices: Vec<SegmentSlice> = visible_parts(&self.segments, range)
            .into_iter()
            .filter(|(s, _)| !s.is_tombstone && s.num_rows > 0)
            .map(|(s, visible)| SegmentSlice {
                segment_id: s.id.to_string(),
                path: s.path.clone(),
                size_bytes: s.size_bytes,
                num_rows: s.num_rows,
                interval: s.id.interval,
                visible,
            })
            .collect();
        // Largest first onto the least-loaded partition.
        slices.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then(a.segment_id.cmp(&b.segment_id)));
        let n = self.partitions.max(1);
        let mut parts: Vec<Vec<SegmentSlice>> = vec![Vec::new(); n];
        let mut load = vec![0u64; n];
        for s in slices {
            let i = (0..n).min_by_key(|i| (load[*i], *i)).unwrap_or(0);
            load[i] += s.size_bytes.max(1);
            parts[i].push(s);
        }
        Ok(Arc::new(SegmentScanExec::new(
            self.name.clone(),
            parts,
            self.schema.clone(),
            projection.cloned(),
            0,
        )?))
    }
}

fn intersect(a: Interval, b: Interval) -> Interval {
    Interval::new(a.start.max(b.start), a.end.min(b.end))
}

/// Millis of a timestamp literal (any unit).
fn literal_millis(e: &Expr) -> Option<i64> {
    let v = match e {
        Expr::Literal(v, _) => v,
        Expr::Cast(c) => return literal_millis(&c.expr),
        Expr::TryCast(c) => return literal_millis(&c.expr),
        _ => return None,
    };
    match v {
        ScalarValue::TimestampMillisecond(Some(t), _) => Some(*t),
        ScalarValue::TimestampSecond(Some(t), _) => Some(t * 1000),
        ScalarValue::TimestampMicrosecond(Some(t), _) => Some(t.div_euclid(1000)),
        ScalarValue::TimestampNanosecond(Some(t), _) => Some(t.div_euclid(1_000_000)),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            msq_engine::granularity::parse_instant(s)
        }
        _ => None,
    }
}

fn is_time_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == TIME_COLUMN,
        Expr::Cast(c) => is_time_column(&c.expr),
        _ => false,
    }
}

/// The `__time` range a filter restricts rows to, when it is a simple comparison.
pub fn time_range(e: &Expr) -> Option<Interval> {
    match e {
        Expr::BinaryExpr(b) => {
            if b.op == Operator::And {
                let l = time_range(&b.left);
                let r = time_range(&b.right);
                return match (l, r) {
                    (Some(l), Some(r)) => Some(intersect(l, r)),
                    (x, None) | (None, x) => x,
                };
            }
            if b.op == Operator::Or {
                let l = time_range(&b.left)?;
                let r = time_range(&b.right)?;
                return Some(Interval::new(l.start.min(r.start), l.end.max(r.end)));
            }
            let (op, t) = if is_time_column(&b.left) {
                (b.op, literal_millis(&b.right)?)
            } else if is_time_column(&b.right) {
                (b.op.swap()?, literal_millis(&b.left)?)
            } else {
                return None;
            };
            match op {
                Operator::Gt => Some(Interval::new(t.saturating_add(1), i64::MAX)),
                Operator::GtEq => Some(Interval::new(t, i64::MAX)),
                Operator::Lt => Some(Interval::new(i64::MIN, t)),
                Operator::LtEq => Some(Interval::new(i64::MIN, t.saturating_add(1))),
                Operator::Eq => Some(Interval::new(t, t.saturating_add(1))),
                _ => None,
            }
        }
        Expr::Between(b) if !b.negated && is_time_column(&b.expr) => {
            let lo = literal_millis(&b.low)?;
            let hi = literal_millis(&b.high)?;
            Some(Interval::new(lo, hi.saturating_add(1)))
        }
        _ => None,
    }
}
