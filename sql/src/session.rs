//! The DataFusion session a statement is planned in: DataFusion's and Druid's functions,
//! built once ([`template_state`]), with the statement's own settings and catalog.

use datafusion::catalog::{CatalogProviderList, MemoryCatalogProviderList};
use datafusion::execution::{SessionState, SessionStateBuilder, SessionStateDefaults};
use datafusion::physical_expr::execution_props::ExecutionProps;
use datafusion::prelude::{SessionConfig, SessionContext};
use msq_engine::context::{JoinAlgorithm, QueryContext};
use std::sync::{Arc, OnceLock};

/// A DataFusion session configured for planning msq-rs stage DAGs: a copy of
/// [`template_state`] with this statement's settings, its own catalog (the tables a
/// statement registers are its own) and its own execution properties.
pub fn session_context(ctx: &QueryContext) -> SessionContext {
    let workers = ctx.worker_count();
    let mut config = SessionConfig::new()
        .with_target_partitions(workers.max(2))
        .with_batch_size(ctx.rows_per_frame)
        .with_round_robin_repartition(false)
        .with_repartition_joins(true)
        .with_repartition_aggregations(true)
        .with_repartition_sorts(true)
        .with_repartition_file_scans(false)
        .with_information_schema(false);
    {
        let o = config.options_mut();
        o.sql_parser.enable_ident_normalization = false;
        o.optimizer.enable_dynamic_filter_pushdown = false;
        o.optimizer.enable_topk_dynamic_filter_pushdown = false;
        o.optimizer.enable_join_dynamic_filter_pushdown = false;
        o.optimizer.enable_aggregate_dynamic_filter_pushdown = false;
        o.optimizer.prefer_existing_sort = false;
        o.optimizer.prefer_hash_join = ctx.sql.join_algorithm != JoinAlgorithm::SortMerge;
    }
    let mut state = template_state().clone();
    *state.execution_props_mut() = ExecutionProps::new();
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    let default_catalog = SessionStateDefaults::default_catalog(&config, state.table_factories(), state.runtime_env());
    catalogs.register_catalog(
        config.options().catalog.default_catalog.clone(),
        Arc::new(default_catalog),
    );
    state.register_catalog_list(catalogs);
    *state.config_mut() = config;
    SessionContext::new_with_state(state)
}

/// The functions, planners and rules every statement's session starts from, built once:
/// DataFusion's defaults, Druid's functions and `LOOKUP` (registering the several hundred
/// functions took about 0.3 ms per statement). Nothing in it changes per statement: a
/// session copies it and replaces the settings, catalog and execution properties.
/// Functions that read settings when registered (DataFusion's `with_updated_config`) see
/// the defaults; none reads a setting a session changes (Druid's `sqlTimeZone` is applied
/// by rewriting the SQL, DataFusion's own time zone stays the default).
fn template_state() -> &'static SessionState {
    static TEMPLATE: OnceLock<SessionState> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let sc = SessionContext::new_with_state(SessionStateBuilder::new().with_default_features().build());
        crate::functions::register_druid_functions(&sc);
        crate::lookups::register(&sc);
        sc.state()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::empty::EmptyTable;
    use datafusion::execution::FunctionRegistry;

    /// Sessions copy one template: each keeps its own tables, settings and functions.
    #[tokio::test]
    async fn sessions_from_the_template_share_no_tables_or_settings() {
        let wide = QueryContext {
            max_num_tasks: 5,
            rows_per_frame: 1234,
            ..Default::default()
        };
        let a = session_context(&wide);
        let b = session_context(&QueryContext::default());
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        a.register_table("only_in_a", Arc::new(EmptyTable::new(schema)))
            .unwrap();
        assert!(a.table_exist("only_in_a").unwrap());
        assert!(!b.table_exist("only_in_a").unwrap());
        assert!(!session_context(&wide).table_exist("only_in_a").unwrap());

        assert_eq!(a.state().config().target_partitions(), 4);
        assert_eq!(a.state().config().batch_size(), 1234);
        assert_eq!(b.state().config().target_partitions(), 2);
        assert!(!a.state().config().options().sql_parser.enable_ident_normalization);

        for sc in [&a, &b] {
            assert!(sc.udf(msq_rows::lookup::LOOKUP_FN).is_ok());
            assert!(sc.udf("time_floor").is_ok());
            assert!(sc.udaf("approx_count_distinct_ds_hll").is_ok());
        }
        // A function registered in one session stays there.
        let only_a = datafusion::logical_expr::create_udf(
            "only_in_a_fn",
            vec![DataType::Int64],
            DataType::Int64,
            datafusion::logical_expr::Volatility::Immutable,
            Arc::new(|args: &[datafusion::logical_expr::ColumnarValue]| Ok(args[0].clone())),
        );
        a.register_udf(only_a);
        assert!(a.udf("only_in_a_fn").is_ok());
        assert!(b.udf("only_in_a_fn").is_err());
        assert!(session_context(&wide).udf("only_in_a_fn").is_err());
        let rows = b.sql("SELECT 1 AS one").await.unwrap().collect().await.unwrap();
        assert_eq!(rows[0].num_rows(), 1);
    }
}
