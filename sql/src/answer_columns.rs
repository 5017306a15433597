//! The last projection of a SELECT's answer: every output column kept as it is, or replaced
//! by an expression of it under the same name ([`crate::string_views`], [`crate::result_zone`]).

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::Expr;

/// `df` with each column for which `f` gives an expression (of the column, of its type)
/// replaced by it; `df` itself when `f` replaces none.
pub(crate) fn map_columns(
    df: DataFrame,
    f: impl Fn(Expr, &DataType) -> Option<Expr>,
) -> datafusion::error::Result<DataFrame> {
    let mut changed = false;
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(q, field)| {
            let c = Expr::Column(datafusion::common::Column::new(q.cloned(), field.name()));
            match f(c.clone(), field.data_type()) {
                Some(e) => {
                    changed = true;
                    e.alias(field.name())
                }
                None => c,
            }
        })
        .collect();
    if changed {
        df.select(exprs)
    } else {
        Ok(df)
    }
}
