//! Druid's lookups in SQL, resolved while planning from the metadata store's `__default` tier:
//!
//! - `LOOKUP(expr, 'name'[, replaceMissingValueWith])`: each call is bound to the lookup's map
//!   ([`msq_rows::lookup::LookupFn`]), which travels inside the plan to every worker.
//! - `lookup.<name>` in FROM: a table of the map's entries (columns `k`, `v`, both VARCHAR),
//!   read as inline JSON input, so it needs nothing of the worker either.

use crate::tables::ExternTable;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;
use msq_engine::input::{InlineInputSource, InputFormat, InputSource};
use msq_engine::metadata::lookup::{LookupRecord, DEFAULT_TIER};
use msq_engine::metadata::MetadataStore;
use msq_engine::signature::{ColumnSignature, ColumnType, Signature};
use msq_engine::{MsqError, Result};
use msq_rows::lookup::{LookupFn, LookupMap, LOOKUP_FN};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The SQL schema of lookup tables.
pub const LOOKUP_SCHEMA: &str = "lookup";

/// Registers the (unbound) `LOOKUP` function.
pub fn register(sc: &SessionContext) {
    sc.register_udf(LookupFn::unbound());
}

/// The lookup name of a `LOOKUP` call: its second argument, a string literal.
fn call_lookup_name(args: &[Expr]) -> Result<Option<String>> {
    match args.get(1) {
        Some(Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)),
            _,
        )) => Ok(Some(s.clone())),
        Some(_) => Err(MsqError::Validation(
            "LOOKUP: the lookup name (second argument) must be a string literal".into(),
        )),
        None => Ok(None),
    }
}

/// Whether `e` is a call of the (unbound or bound) `LOOKUP` function.
fn is_lookup_call(e: &Expr) -> bool {
    matches!(e, Expr::ScalarFunction(f) if f.func.name() == LOOKUP_FN)
}

/// The names of every lookup `plan` calls `LOOKUP` with (subqueries included).
fn called_lookups(plan: &LogicalPlan) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut bad = None;
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|x| {
                if let (true, Expr::ScalarFunction(f)) = (is_lookup_call(x), x) {
                    match call_lookup_name(&f.args) {
                        Ok(Some(n)) => {
                            names.insert(n);
                        }
                        Ok(None) => {}
                        Err(err) => bad = Some(err),
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .map_err(MsqError::from)?;
    match bad {
        Some(e) => Err(e),
        None => Ok(names),
    }
}

/// The `__default` tier's lookup `name`, or Druid's error for an unknown one.
async fn fetch(metadata: &Arc<dyn MetadataStore>, name: &str) -> Result<LookupRecord> {
    let (md, n) = (metadata.clone(), name.to_string());
    msq_engine::blocking(move || md.lookup(DEFAULT_TIER, &n))
        .await?
        .ok_or_else(|| MsqError::Validation(format!("Lookup [{name}] not found")))
}

/// Binds every `LOOKUP` call of `plan` to its lookup's map (read from `metadata` now). The
/// calls keep their arguments, so every column name and type stays the same.
pub async fn bind(plan: LogicalPlan, metadata: &Arc<dyn MetadataStore>) -> Result<LogicalPlan> {
    let names = called_lookups(&plan)?;
    if names.is_empty() {
        return Ok(plan);
    }
    let mut maps: BTreeMap<String, Arc<LookupMap>> = BTreeMap::new();
    for name in names {
        let rec = fetch(metadata, &name).await?;
        maps.insert(name.clone(), Arc::new(LookupMap::new(&name, &rec.version, rec.map())));
    }
    let bound = plan
        .transform_up_with_subqueries(|node| {
            node.map_expressions(|e| {
                e.transform_up(|x| {
                    let Expr::ScalarFunction(mut f) = x else {
                        return Ok(Transformed::no(x));
                    };
                    let map = match (f.func.name() == LOOKUP_FN, call_lookup_name(&f.args)) {
                        (true, Ok(Some(n))) => maps.get(&n).cloned(),
                        _ => None,
                    };
                    match map {
                        Some(m) => {
                            f.func = Arc::new(LookupFn::bound(m));
                            Ok(Transformed::yes(Expr::ScalarFunction(f)))
                        }
                        None => Ok(Transformed::no(Expr::ScalarFunction(f))),
                    }
                })
            })
        })
        .map_err(MsqError::from)?;
    Ok(bound.data)
}

/// Whether `r` names a lookup table (`lookup.<name>`).
pub fn is_lookup_table(r: &TableReference) -> bool {
    r.catalog().is_none() && r.schema() == Some(LOOKUP_SCHEMA)
}

/// The columns of a lookup table.
pub fn lookup_table_signature() -> Signature {
    Signature(vec![
        ColumnSignature {
            name: "k".into(),
            column_type: ColumnType::String,
        },
        ColumnSignature {
            name: "v".into(),
            column_type: ColumnType::String,
        },
    ])
}

/// The entries of a lookup as inline JSON lines `{"k": ..., "v": ...}`.
fn inline_rows(rec: &LookupRecord) -> String {
    let mut out = String::new();
    for (k, v) in rec.map() {
        out.push_str(&serde_json::json!({"k": k, "v": v}).to_string());
        out.push('\n');
    }
    out
}

/// Registers `lookup.<name>` (a reference [`is_lookup_table`] accepted) as the table of the
/// lookup's entries; an unknown lookup is Calcite's `Object ... not found`.
pub async fn register_table(
    sc: &SessionContext,
    r: &TableReference,
    metadata: &Arc<dyn MetadataStore>,
    workers: usize,
) -> Result<()> {
    let name = r.table();
    let not_found = || MsqError::Validation(format!("Object '{name}' not found within '{LOOKUP_SCHEMA}'"));
    if msq_engine::metadata::lookup::validate_name(name).is_err() {
        return Err(not_found());
    }
    let rec = match fetch(metadata, name).await {
        Ok(rec) => rec,
        Err(MsqError::Validation(_)) => return Err(not_found()),
        Err(e) => return Err(e),
    };
    let catalog = sc
        .catalog(&sc.state().config().options().catalog.default_catalog)
        .ok_or_else(|| MsqError::Unknown("the session has no default catalog".into()))?;
    if catalog.schema(LOOKUP_SCHEMA).is_none() {
        catalog
            .register_schema(LOOKUP_SCHEMA, Arc::new(MemorySchemaProvider::new()))
            .map_err(MsqError::from)?;
    }
    let table = ExternTable {
        source: InputSource::Inline(InlineInputSource {
            data: inline_rows(&rec),
        }),
        format: serde_json::from_value::<InputFormat>(serde_json::json!({"type": "json"}))
            .map_err(|e| MsqError::Unknown(format!("json input format: {e}")))?,
        signature: lookup_table_signature(),
        partitions: workers.max(1),
    };
    sc.register_table(TableReference::partial(LOOKUP_SCHEMA, name), Arc::new(table))
        .map_err(MsqError::from)?;
    Ok(())
}
