//! What NeuroMorpho.Org holds, as the library models it: neuron records and the pages they
//! come in (read without copying), queries, and the files of a neuron on the server.

pub(crate) mod files;
pub(crate) mod json_view;
mod neuron;
pub(crate) mod page;
pub(crate) mod query;
pub(crate) mod sample;

pub use neuron::Neuron;
pub(crate) use neuron::{FieldList, PageInfo, ValuePage};
pub(crate) use page::{walk_page, NeuronPage, Placed, SharedPage};
