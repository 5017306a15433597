//! `TABLE(APPEND('t1', 't2', ...))`: one table holding the rows of every table named, as a
//! view over `UNION ALL` of their scans. Columns are matched by name, in order of first
//! appearance; a table without a column gives NULL there. A column whose types differ
//! between tables takes the least restrictive one, as Druid's: DOUBLE when both are numbers,
//! else VARCHAR.

use crate::tables::DatasourceTable;
use arrow::datatypes::{DataType, Field};
use datafusion::catalog::view::ViewTable;
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use msq_engine::metadata::MetadataStore;
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// The columns of the appended tables (see the module doc).
fn union_fields(tables: &[Arc<DatasourceTable>]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for t in tables {
        for f in datafusion::datasource::TableProvider::schema(t.as_ref()).fields() {
            match fields.iter_mut().find(|x| x.name() == f.name()) {
                None => fields.push(f.as_ref().clone().with_nullable(true)),
                Some(x) if x.data_type() == f.data_type() => {}
                Some(x) => {
                    let numeric = x.data_type().is_numeric() && f.data_type().is_numeric();
                    let t = if numeric { DataType::Float64 } else { DataType::Utf8 };
                    *x = Field::new(x.name(), t, true);
                }
            }
        }
    }
    fields
}

/// The plan of one appended table: its scan projected onto `fields`.
fn table_plan(name: &str, table: Arc<DatasourceTable>, fields: &[Field]) -> Result<LogicalPlan> {
    let schema = datafusion::datasource::TableProvider::schema(table.as_ref());
    let scan = LogicalPlanBuilder::scan(name, provider_as_source(table), None).map_err(MsqError::from)?;
    let mut exprs: Vec<Expr> = Vec::with_capacity(fields.len());
    for f in fields {
        let e = match schema.field_with_name(f.name()) {
            Ok(own) => {
                let c = Expr::Column(Column::new(Some(TableReference::bare(name)), f.name()));
                if own.data_type() == f.data_type() {
                    c
                } else {
                    cast(c, f.data_type().clone())
                }
            }
            Err(_) => lit(ScalarValue::try_from(f.data_type()).map_err(MsqError::from)?),
        };
        exprs.push(e.alias(f.name()));
    }
    scan.project(exprs).and_then(|b| b.build()).map_err(MsqError::from)
}

/// Registers each `APPEND` of the statement (its `__append_N` name and the tables it names)
/// under that name; returns the tables read (an unknown one is Druid's `Table [x] not found`).
pub async fn register(
    sc: &SessionContext,
    appends: &[(String, Vec<String>)],
    metadata: &Arc<dyn MetadataStore>,
    workers: usize,
) -> Result<Vec<String>> {
    let mut read = Vec::new();
    for (table_name, names) in appends {
        let mut tables = Vec::new();
        for name in names {
            let not_found = || MsqError::Validation(format!("Table [{name}] not found"));
            if msq_engine::ids::validate_id("dataSource", name).is_err() {
                return Err(not_found());
            }
            let segments = {
                let (md, n) = (metadata.clone(), name.clone());
                msq_engine::blocking(move || md.used_segments(&n, None)).await?
            };
            if segments.is_empty() {
                return Err(not_found());
            }
            tables.push(Arc::new(DatasourceTable::new(name.clone(), segments, workers)));
            read.push(name.clone());
        }
        let fields = union_fields(&tables);
        let mut plans = Vec::with_capacity(tables.len());
        for (i, t) in tables.into_iter().enumerate() {
            // Each scan gets its own alias: one table may be appended twice.
            plans.push(table_plan(&format!("{table_name}_{i}"), t, &fields)?);
        }
        let mut plans = plans.into_iter();
        let first = plans
            .next()
            .ok_or_else(|| MsqError::Validation("APPEND requires at least one table".into()))?;
        let mut builder = LogicalPlanBuilder::from(first);
        for p in plans {
            builder = builder.union(p).map_err(MsqError::from)?;
        }
        let plan = builder.build().map_err(MsqError::from)?;
        sc.register_table(table_name.as_str(), Arc::new(ViewTable::new(plan, None)))
            .map_err(MsqError::from)?;
    }
    Ok(read)
}
