//! `CITATIONS.md`: what NeuroMorpho.Org's terms of use ask users to cite for the data they use.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};

/// Collects the source publications of downloaded neurons.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct Citations {
    /// Publication key (`PMID 123` / `DOI 10...`) -> (PMID, DOI, neurons).
    publications: BTreeMap<String, (Option<String>, Option<String>, u64)>,
    neurons: u64,
    without_reference: u64,
}

impl Citations {
    /// Nothing yet.
    pub fn new() -> Citations {
        Citations::default()
    }

    /// Count one neuron's publications. `reference_pmid` and `reference_doi` are parallel
    /// lists on the server; a PMID is paired with the DOI at the same position.
    pub fn add(&mut self, reference_pmid: &[String], reference_doi: &[String]) {
        self.neurons += 1;
        let n = reference_pmid.len().max(reference_doi.len());
        let mut any = false;
        for i in 0..n {
            let pmid = reference_pmid
                .get(i)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s != "0");
            let doi = reference_doi
                .get(i)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            let key = match (&pmid, &doi) {
                (Some(p), _) => format!("PMID {p}"),
                (None, Some(d)) => format!("DOI {d}"),
                (None, None) => continue,
            };
            any = true;
            let e = self.publications.entry(key).or_insert((pmid, None, 0));
            if e.1.is_none() {
                e.1 = doi;
            }
            e.2 += 1;
        }
        if !any {
            self.without_reference += 1;
        }
    }

    /// Neurons counted.
    pub fn neurons(&self) -> u64 {
        self.neurons
    }

    /// Distinct publications seen.
    pub fn len(&self) -> usize {
        self.publications.len()
    }

    /// True when no publication was seen.
    pub fn is_empty(&self) -> bool {
        self.publications.is_empty()
    }

    /// The Markdown text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# Citations\n\n");
        s.push_str(
            "NeuroMorpho.Org's terms of use ask that work using its data cite NeuroMorpho.Org and \
             the original publication(s) of every reconstruction used.\n\n",
        );
        s.push_str("## NeuroMorpho.Org\n\n");
        s.push_str("- NeuroMorpho.Org, RRID:SCR_002145 — https://neuromorpho.org\n");
        s.push_str(
            "- Tecuatl C, Ljungquist B, Ascoli GA (2024). FASEB BioAdvances 6(7):207–221 \
             (NeuroMorpho.Org's current reference paper).\n",
        );
        s.push_str(
            "- Ascoli GA, Donohue DE, Halavi M (2007). NeuroMorpho.Org: a central resource for \
             neuronal morphologies. J Neurosci 27(35):9247–9251.\n\n",
        );
        let _ = writeln!(
            s,
            "## Source publications of the {} neuron(s) downloaded\n",
            self.neurons
        );
        if self.publications.is_empty() {
            s.push_str("No source publication was listed for these neurons.\n");
        } else {
            s.push_str("| PMID | DOI | neurons |\n|---|---|---|\n");
            let mut rows: Vec<_> = self.publications.values().collect();
            rows.sort_by(|a, b| {
                b.2.cmp(&a.2)
                    .then_with(|| a.0.cmp(&b.0))
                    .then_with(|| a.1.cmp(&b.1))
            });
            for (pmid, doi, count) in rows {
                let pmid = pmid
                    .as_ref()
                    .map(|p| format!("[{p}](https://pubmed.ncbi.nlm.nih.gov/{p}/)"))
                    .unwrap_or_default();
                let doi = doi
                    .as_ref()
                    .map(|d| format!("[{d}](https://doi.org/{d})"))
                    .unwrap_or_default();
                let _ = writeln!(s, "| {pmid} | {doi} | {count} |");
            }
        }
        if self.without_reference > 0 {
            let _ = writeln!(
                s,
                "\n{} neuron(s) list no publication (for example unpublished data); see their \
                 records in the metadata table for the archive to credit.",
                self.without_reference
            );
        }
        s
    }

    /// Write `<out>/CITATIONS.md` (atomically). Returns its path.
    pub fn write(&self, out_dir: &Path) -> Result<PathBuf> {
        self.write_to(&out_dir.join("CITATIONS.md"))
    }

    /// Write the Markdown to `path` (atomically), e.g. `CITATIONS.shard-2-of-10.md`.
    pub fn write_to(&self, path: &Path) -> Result<PathBuf> {
        write_atomically(path, self.render().as_bytes(), true).map_err(|e| Error::io(path, e))?;
        Ok(path.to_path_buf())
    }
}
