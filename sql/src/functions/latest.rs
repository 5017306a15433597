//! Druid's `LATEST_BY` / `EARLIEST_BY` aggregations (and, through a rewrite in the planner,
//! `LATEST(expr)` / `EARLIEST(expr)` over `__time`): the value at the latest / earliest time.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// Which end of time to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum End {
    Latest,
    Earliest,
}

/// `LATEST_BY(value, time)` or `EARLIEST_BY(value, time)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ByTime {
    end: End,
    signature: Signature,
}

impl AggregateUDFImpl for ByTime {
    fn name(&self) -> &str {
        match self.end {
            End::Latest => "latest_by",
            End::Earliest => "earliest_by",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ByTimeAccumulator {
            end: self.end,
            best: None,
            value: ScalarValue::try_from(args.return_field.data_type())?,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}_time", args.name), DataType::Int64, true)),
            Arc::new(Field::new(
                format!("{}_value", args.name),
                args.return_type().clone(),
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct ByTimeAccumulator {
    end: End,
    best: Option<i64>,
    value: ScalarValue,
}

impl ByTimeAccumulator {
    fn offer(&mut self, values: &ArrayRef, times: &ArrayRef) -> Result<()> {
        let t = arrow::compute::cast(times, &DataType::Int64)?;
        let t = t.as_primitive::<Int64Type>();
        let mut pick: Option<(usize, i64)> = None;
        for i in 0..t.len() {
            if t.is_null(i) {
                continue;
            }
            let ti = t.value(i);
            let better = |cur: i64| match self.end {
                End::Latest => ti > cur,
                End::Earliest => ti < cur,
            };
            let beats_pick = pick.is_none_or(|(_, p)| better(p));
            let beats_best = self.best.is_none_or(better);
            if beats_pick && beats_best {
                pick = Some((i, ti));
            }
        }
        if let Some((i, ti)) = pick {
            self.best = Some(ti);
            self.value = ScalarValue::try_from_array(values, i)?;
        }
        Ok(())
    }
}

impl Accumulator for ByTimeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(&values[0], &values[1])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(&states[1], &states[0])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(self.best), self.value.clone()])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }
}

/// The `latest_by` and `earliest_by` aggregate functions.
pub fn time_aggregates() -> Vec<AggregateUDF> {
    [End::Latest, End::Earliest]
        .into_iter()
        .map(|end| {
            AggregateUDF::from(ByTime {
                end,
                signature: Signature::any(2, Volatility::Immutable),
            })
        })
        .collect()
}
