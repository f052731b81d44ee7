//! Whole jobs, as methods of [`Client`]: a query (or names) to a folder of files with their
//! metadata table, lists and citations; and the mending of a folder `verify` found wanting.

mod collector;
mod options;
mod run_file;
mod selection;
mod shard;
mod summary;
mod verify;

use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::api::search::PassEvent;
use crate::archive::query::Query;
use crate::archive::{Neuron, NeuronPage, Placed, SharedPage};
use crate::client::Client;
use crate::download::FailedFile;
use crate::error::{FailureKind, Result};
use crate::progress::Progress;
use crate::tables::metadata::{parse_with_rows, RowFormat};

use collector::Collector;
use selection::Selection;

pub use options::JobOptions;
pub use run_file::SavedRun;
pub use shard::Shard;
pub use summary::{
    CheckedFiles, JobSummary, MirrorSummary, PvecSummary, SampledSummary, UpdateSummary,
    WrittenFiles,
};

impl Client {
    /// Search, write the metadata table as pages arrive, download every file, write
    /// `failed.csv`, the citations and the folder's run file: neuromorphopy's one-call
    /// `search_and_download`, synchronous. `progress` is called on this thread.
    ///
    /// ```no_run
    /// use neuromorpho::{Client, JobOptions, Query};
    /// let client = Client::new()?;
    /// let query = Query::new().filter("species", ["mouse"]).filter("cell_type", ["pyramidal"]);
    /// let summary = client.download_query(&query, &JobOptions::new("neurons"), |_| {})?;
    /// println!("{} matched, {} downloaded, {} failed", summary.matched, summary.downloaded, summary.failed.len());
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn download_query(
        &self,
        query: &Query,
        options: &JobOptions,
        mut progress: impl FnMut(&Progress),
    ) -> Result<JobSummary> {
        let started = Instant::now();
        let mut collector = Collector::new(self, options)?;
        let mut selection = Selection::new(
            options.out_dir(),
            options.limit,
            options.sample,
            options.seed,
        )?;
        // Once the first page of a pass has fixed the table's columns, the rows of later
        // pages are rendered by the workers that parse them (this run's shard only).
        let columns: RwLock<Option<Arc<RowFormat>>> = RwLock::new(None);
        let shard = options.shard;
        // A share is decided by the id alone: the workers render only the rows it keeps.
        let share = options
            .sample
            .filter(|s| matches!(s, crate::Sample::Fraction(_)));
        let seed = options.seed;
        let mine = |n: &Neuron| {
            shard.is_none_or(|s| s.contains(n.neuron_id()))
                && share.is_none_or(|s| {
                    n.neuron_id()
                        .is_some_and(|id| s.keeps(id, seed) == Some(true))
                })
        };
        let parse = |shared: &Arc<SharedPage>| {
            let format = columns.read().map_or(None, |c| c.clone());
            match format {
                Some(format) => {
                    parse_with_rows(shared, &format, &mine).map(|(p, rows)| (p, Some(rows)))
                }
                None => Ok((NeuronPage::of_shared(shared)?, None)),
            }
        };
        let set_columns = |format: Option<RowFormat>| {
            if let Ok(mut c) = columns.write() {
                *c = format.map(Arc::new);
            }
        };
        let on_event = |event| match event {
            PassEvent::Started {
                total,
                pages,
                restart,
            } => {
                if restart {
                    set_columns(None);
                    collector.reset()?;
                    selection.reset()?;
                }
                collector.expect(total);
                progress(&Progress::SearchStarted { total, pages });
                Ok(())
            }
            PassEvent::Page(page) => {
                let (number, pages) = (page.number, page.pages);
                let (records, skipped) =
                    selection.take_page(Some(number), page.records, page.skipped)?;
                collector.add(&records, skipped, Some(number), page.extra)?;
                if number == 0 {
                    set_columns(collector.row_format());
                }
                progress(&Progress::Page {
                    done: number + 1,
                    pages,
                });
                Ok(())
            }
        };
        let matched = self.search_with(query, options.limit, &parse, on_event)?;
        // A count's sample, known only now.
        let sampled =
            selection.finish(&mut |records| collector.add(&records, Vec::new(), None, None))?;
        let mut summary = collector.finish(matched, started, &mut progress)?;
        summary.sampled = sampled;
        run_file::save_run(self, query, options, summary.sampled.as_ref())?;
        Ok(summary)
    }

    /// Look neurons up by name (batched), then as [`Client::download_query`]. Names the
    /// server does not know are failures (`not-found`) of the summary.
    pub fn download_names<I, S>(
        &self,
        names: I,
        options: &JobOptions,
        mut progress: impl FnMut(&Progress),
    ) -> Result<JobSummary>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let started = Instant::now();
        let lookup = self.neurons_by_name(names)?;
        let mut collector = Collector::new(self, options)?;
        progress(&Progress::SearchStarted {
            total: lookup.found.len() as u64,
            pages: 1,
        });
        let found: Placed<Neuron> = lookup.found.iter().cloned().enumerate().collect();
        let mut selection = Selection::new(
            options.out_dir(),
            options.limit,
            options.sample,
            options.seed,
        )?;
        let (found, _) = selection.take_page(None, found, Vec::new())?;
        collector.add(&found, Vec::new(), None, None)?;
        let sampled =
            selection.finish(&mut |records| collector.add(&records, Vec::new(), None, None))?;
        for name in &lookup.missing {
            collector.failed.push(FailedFile::record(
                name,
                None,
                FailureKind::NotFound,
                "the server has no neuron of this name".into(),
            ));
        }
        let mut summary = collector.finish(lookup.found.len() as u64, started, &mut progress)?;
        summary.not_found = lookup.missing;
        summary.sampled = sampled;
        Ok(summary)
    }
}
