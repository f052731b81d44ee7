//! placeholder docs
pub mod client;
pub mod download;
pub mod error;
pub mod metadata;
pub mod model;
pub mod query;
pub mod search;
pub mod swc;
mod tls;

pub use client::{Client, ClientBuilder, ProxyMode};
pub use download::{DownloadItem, DownloadOptions, DownloadReport, FailedFile, FileKind, Progress};
pub use error::{Error, FailureKind, InvalidItem, Result};
pub use metadata::{MetadataFormat, MetadataWriter};
pub use model::Neuron;
pub use query::{Query, Sort};
pub use search::SearchEvent;
