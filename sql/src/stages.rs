//! Cuts a DataFusion physical plan into a stage DAG at its shuffle boundaries (as Ballista's
//! distributed planner does): hash repartitions become hash shuffles, partition merges become
//! gathers (sorted or not), and the leaves of each fragment become the stage's inputs.

use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::joins::SortMergeJoinExec;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};
use msq_engine::sort::SortColumn;
use msq_engine::stage::{ProcessorKind, ShuffleSpec, StageDefinition, StageInput, StageProcessor};
use msq_engine::{MsqError, Result};
use msq_rows::exec::{ExternalScanExec, SegmentScanExec, ShuffleReaderExec};
use std::sync::Arc;

/// Accumulates stages while a plan is cut.
pub struct StageBuilder {
    pub query_id: String,
    pub workers: usize,
    pub stages: Vec<StageDefinition>,
}

impl StageBuilder {
    /// A builder for a query running on `workers` workers.
    pub fn new(query_id: &str, workers: usize) -> Self {
        StageBuilder {
            query_id: query_id.to_string(),
            workers: workers.max(1),
            stages: Vec::new(),
        }
    }

    /// Adds a plan-fragment stage whose output is shuffled by `shuffle`; returns its number.
    pub fn add_plan_stage(&mut self, plan: Arc<dyn ExecutionPlan>, shuffle: ShuffleSpec) -> Result<usize> {
        let (plan, inputs, broadcast) = assign_inputs(plan)?;
        let kind = processor_kind(&plan);
        let partitions = plan.output_partitioning().partition_count();
        let n = self.stages.len();
        self.stages.push(StageDefinition {
            stage_number: n,
            id: format!("{}_{}", self.query_id, n),
            inputs,
            broadcast,
            schema: plan.schema(),
            processor: StageProcessor::Plan { kind, plan },
            shuffle: Some(shuffle),
            max_worker_count: partitions.min(self.workers).max(1),
        });
        Ok(n)
    }

    /// Adds an already-built stage definition (segment generation); returns its number.
    pub fn add_stage(&mut self, mut def: StageDefinition) -> usize {
        let n = self.stages.len();
        def.stage_number = n;
        def.id = format!("{}_{}", self.query_id, n);
        self.stages.push(def);
        n
    }

    fn reader(&self, stage: usize, partitions: usize, ordering: Option<LexOrdering>) -> Arc<dyn ExecutionPlan> {
        let schema = self.stages[stage].schema.clone();
        Arc::new(ShuffleReaderExec::new(stage, 0, schema, partitions, ordering))
    }

    /// Replaces every shuffle boundary under `plan` by a reader of a new upstream stage.
    pub fn cut(&mut self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.name() == "ScalarSubqueryExec" {
            // The subquery's result is shared in memory with the expressions that use it
            // below: the whole subtree runs in one fragment, gathered to one partition.
            return Ok(if plan.output_partitioning().partition_count() > 1 {
                Arc::new(CoalescePartitionsExec::new(plan))
            } else {
                plan
            });
        }
        if let Some(r) = plan.downcast_ref::<RepartitionExec>() {
            let child = self.cut(r.input().clone())?;
            return match r.partitioning() {
                Partitioning::Hash(exprs, n) => {
                    let key_names = exprs.iter().map(|e| e.to_string()).collect();
                    let stage = self.add_plan_stage(
                        child,
                        ShuffleSpec::Hash {
                            keys: exprs.clone(),
                            key_names,
                            partitions: *n,
                        },
                    )?;
                    Ok(self.reader(stage, *n, None))
                }
                // Round-robin repartitioning only adds local parallelism: workers give us that.
                _ => Ok(child),
            };
        }
        if let Some(c) = plan.downcast_ref::<CoalescePartitionsExec>() {
            let fetch = c.fetch();
            let child = self.cut(c.input().clone())?;
            let gathered = if child.output_partitioning().partition_count() <= 1 {
                child
            } else {
                let child = match fetch {
                    Some(f) => Arc::new(LocalLimitExec::new(child, f)) as Arc<dyn ExecutionPlan>,
                    None => child,
                };
                let stage = self.add_plan_stage(child, ShuffleSpec::Mix)?;
                self.reader(stage, 1, None)
            };
            return Ok(match fetch {
                Some(f) => Arc::new(GlobalLimitExec::new(gathered, 0, Some(f))),
                None => gathered,
            });
        }
        if let Some(s) = plan.downcast_ref::<SortPreservingMergeExec>() {
            let fetch = s.fetch();
            let ordering = s.expr().clone();
            let child = self.cut(s.input().clone())?;
            if child.output_partitioning().partition_count() <= 1 {
                return Ok(replace_children_if_necessary(plan.clone(), vec![child])?);
            }
            let merged: Arc<dyn ExecutionPlan> = match sort_columns(&ordering) {
                Some(sort) => {
                    let stage = self.add_plan_stage(child, ShuffleSpec::SortedGather { sort })?;
                    self.reader(stage, 1, Some(ordering))
                }
                None => {
                    let stage = self.add_plan_stage(child, ShuffleSpec::Mix)?;
                    let reader = self.reader(stage, 1, None);
                    Arc::new(SortExec::new(ordering, reader).with_fetch(fetch))
                }
            };
            return Ok(match fetch {
                Some(f) => Arc::new(GlobalLimitExec::new(merged, 0, Some(f))),
                None => merged,
            });
        }
        let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
        if children.is_empty() {
            return Ok(plan);
        }
        let new_children = children.into_iter().map(|c| self.cut(c)).collect::<Result<Vec<_>>>()?;
        Ok(replace_children_if_necessary(plan, new_children)?)
    }

    /// Cuts a SELECT's plan and adds its final stage, whose output partitions are the results
    /// in order: a global ORDER BY becomes a range shuffle from key statistics.
    pub fn plan_select(&mut self, root: Arc<dyn ExecutionPlan>) -> Result<usize> {
        if let Some(s) = root.downcast_ref::<SortPreservingMergeExec>() {
            if s.fetch().is_none() {
                if let Some(sort) = sort_columns(s.expr()) {
                    let child = self.cut(s.input().clone())?;
                    // The per-partition sort below is redundant: the shuffle sorts.
                    let child = match child.downcast_ref::<SortExec>() {
                        Some(se) if se.fetch().is_none() => se.input().clone(),
                        _ => child,
                    };
                    let n = self.workers;
                    return self.add_plan_stage(
                        child,
                        ShuffleSpec::Range(msq_engine::stage::RangeShuffle {
                            sort: sort.clone(),
                            key: sort,
                            bucket: None,
                            target: msq_engine::stage::PartitionTarget::Count(n),
                        }),
                    );
                }
            }
        }
        if let Some(c) = root.downcast_ref::<CoalescePartitionsExec>() {
            if c.fetch().is_none() {
                let child = self.cut(c.input().clone())?;
                return self.add_plan_stage(child, ShuffleSpec::Mix);
            }
        }
        let root = self.cut(root)?;
        self.add_plan_stage(root, ShuffleSpec::Mix)
    }

    /// Cuts an ingestion query's plan; the returned fragment (not yet a stage) produces the
    /// rows to write, over any number of partitions.
    pub fn cut_ingest_root(&mut self, root: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(c) = root.downcast_ref::<CoalescePartitionsExec>() {
            if c.fetch().is_none() {
                return self.cut(c.input().clone());
            }
        }
        self.cut(root)
    }
}

/// Plain-column sort keys of an ordering, or `None` when any key is an expression.
pub fn sort_columns(ordering: &LexOrdering) -> Option<Vec<SortColumn>> {
    ordering
        .iter()
        .map(|e| {
            e.expr.downcast_ref::<Column>().map(|c| SortColumn {
                index: c.index(),
                descending: e.options.descending,
                nulls_first: e.options.nulls_first,
            })
        })
        .collect()
}

/// Druid's processor name for a fragment.
fn processor_kind(plan: &Arc<dyn ExecutionPlan>) -> ProcessorKind {
    let mut post = false;
    let mut pre = false;
    let mut limit = false;
    let mut smj = false;
    let mut window = false;
    visit(plan, &mut |p| {
        if let Some(a) = p.downcast_ref::<AggregateExec>() {
            if *a.mode() == AggregateMode::Partial {
                pre = true;
            } else {
                post = true;
            }
        }
        if p.downcast_ref::<GlobalLimitExec>().is_some() {
            limit = true;
        }
        if p.downcast_ref::<SortMergeJoinExec>().is_some() {
            smj = true;
        }
        if p.downcast_ref::<BoundedWindowAggExec>().is_some() || p.downcast_ref::<WindowAggExec>().is_some() {
            window = true;
        }
    });
    // A sort-merge join defines its stage (aggregation around it is incidental).
    if smj {
        ProcessorKind::SortMergeJoin
    } else if post {
        ProcessorKind::GroupByPostShuffle
    } else if pre {
        ProcessorKind::GroupByPreShuffle
    } else if window {
        ProcessorKind::Window
    } else if limit {
        ProcessorKind::OffsetLimit
    } else {
        ProcessorKind::Scan
    }
}

fn visit(plan: &Arc<dyn ExecutionPlan>, f: &mut dyn FnMut(&Arc<dyn ExecutionPlan>)) {
    f(plan);
    for c in plan.children() {
        visit(c, f);
    }
}

/// Numbers the fragment's leaves as inputs 0..n and lists them; inputs that every partition
/// reads whole (single-partition readers under a multi-partition fragment) are broadcast.
/// A fragment with numbered inputs, its inputs, and which of them are broadcast.
type NumberedFragment = (Arc<dyn ExecutionPlan>, Vec<StageInput>, Vec<usize>);

fn assign_inputs(plan: Arc<dyn ExecutionPlan>) -> Result<NumberedFragment> {
    let partitions = plan.output_partitioning().partition_count();
    let mut inputs = Vec::new();
    let mut broadcast = Vec::new();
    let plan = renumber(plan, partitions, &mut inputs, &mut broadcast)?;
    Ok((plan, inputs, broadcast))
}

fn renumber(
    plan: Arc<dyn ExecutionPlan>,
    stage_partitions: usize,
    inputs: &mut Vec<StageInput>,
    broadcast: &mut Vec<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let n = inputs.len();
    if let Some(r) = plan.downcast_ref::<ShuffleReaderExec>() {
        inputs.push(StageInput::Stage { stage: r.stage });
        if r.partitions == 1 && stage_partitions > 1 {
            broadcast.push(n);
        }
        return Ok(Arc::new(r.with_input_number(n)));
    }
    if let Some(e) = plan.downcast_ref::<ExternalScanExec>() {
        inputs.push(StageInput::External {
            input_source: e.source.clone(),
            input_format: e.format.clone(),
            signature: e.signature.clone(),
        });
        return Ok(Arc::new(e.with_input_number(n)));
    }
    if let Some(s) = plan.downcast_ref::<SegmentScanExec>() {
        inputs.push(StageInput::Table {
            data_source: s.data_source.clone(),
            intervals: s.intervals(),
        });
        return Ok(Arc::new(s.with_input_number(n)));
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
    if children.is_empty() {
        return Ok(plan);
    }
    let new_children = children
        .into_iter()
        .map(|c| renumber(c, stage_partitions, inputs, broadcast))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(plan, new_children).map_err(MsqError::from)
}
