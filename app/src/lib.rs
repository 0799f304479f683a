//! cobro's application layer: what the CLI (`src/`) and the server (`api/`) both do with the libraries. Opening a
//! snapshot with the right parameters, the operational store, the ledger slice a workflow command needs, and the
//! inputs of a dunning plan. Neither edge holds logic of its own beyond decoding input and encoding output.

pub mod alarms;
pub mod context;
pub mod dunning;
pub mod ledger;
pub mod output;
pub mod push;
pub mod report;

pub use context::{Ctx, Opened};
