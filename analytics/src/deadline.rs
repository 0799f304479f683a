//! A time bound for SQL from someone else (`POST /api/v1/sql`, `cobro serve --pgwire`): a physical optimizer rule
//! puts [`DeadlineExec`] on top of every plan, and its output stream ends with [`Overran`] once the query has run
//! longer than its bound. Dropping the stream stops the work under it: DataFusion's operators run in tasks that are
//! aborted when their output is dropped.
//!
//! The bound is on the plan, not on one caller's future, so the same rule bounds an HTTP request that collects the
//! rows and a PostgreSQL client that pulls them row by row through a crate that runs the plan itself.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// A query ran longer than it may.
#[derive(Debug, Clone, Copy)]
pub struct Overran {
    /// The bound.
    pub limit: Duration,
}

impl fmt::Display for Overran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the query ran longer than {} s, the most one query may run; narrow it or use `cobro sql` locally",
            self.limit.as_secs_f64()
        )
    }
}

impl std::error::Error for Overran {}

impl Overran {
    /// The [`Overran`] at the root of `e`, if that is why it failed.
    pub fn of(e: &DataFusionError) -> Option<Self> {
        match e.find_root() {
            DataFusionError::External(inner) => inner.downcast_ref::<Self>().copied(),
            _ => None,
        }
    }
}

/// Puts a [`DeadlineExec`] of `limit` on top of every physical plan. Add it last, so that no rule after it moves
/// it off the top.
#[derive(Debug)]
pub struct Deadline {
    /// How long a query may run.
    pub limit: Duration,
}

impl PhysicalOptimizerRule for Deadline {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.is::<DeadlineExec>() {
            return Ok(plan);
        }
        Ok(Arc::new(DeadlineExec { properties: Arc::clone(plan.properties()), input: plan, limit: self.limit }))
    }

    fn name(&self) -> &str {
        "deadline"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input through, and fails with [`Overran`] once `limit` has passed since it started.
#[derive(Debug)]
pub struct DeadlineExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    limit: Duration,
}

impl DisplayAs for DeadlineExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeadlineExec: {} s", self.limit.as_secs_f64())
    }
}

impl ExecutionPlan for DeadlineExec {
    fn name(&self) -> &str {
        "DeadlineExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => {
                Ok(Arc::new(Self { properties: Arc::clone(input.properties()), input, limit: self.limit }))
            }
            _ => Err(DataFusionError::Internal("DeadlineExec has one child".into())),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let limit = self.limit;
        let deadline = tokio::time::Instant::now() + limit;
        // Yields the input's batches until the deadline; then one error, and the input is dropped (stopping it).
        let stream = futures::stream::unfold(Some(input), move |input| async move {
            let mut input = input?;
            match tokio::time::timeout_at(deadline, input.next()).await {
                Ok(Some(batch)) => Some((batch, Some(input))),
                Ok(None) => None,
                Err(_) => Some((Err(DataFusionError::External(Box::new(Overran { limit }))), None)),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
