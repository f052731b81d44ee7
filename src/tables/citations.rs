//! `CITATIONS.md`: what NeuroMorpho.Org's terms of use ask users to cite for the data they use.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::atomic_file::write_atomically;

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
                    .as_deref()
                    .map(markdown_cell)
                    .map(|p| format!("[{p}](https://pubmed.ncbi.nlm.nih.gov/{p}/)"))
                    .unwrap_or_default();
                let doi = doi
                    .as_deref()
                    .map(markdown_cell)
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

    /// The BibTeX text (`CITATIONS.bib`): NeuroMorpho.Org's own references with their DOIs
    /// and RRID, then one entry per source publication with its PMID and DOI. The server
    /// gives no titles, so each entry says so in its note instead of inventing one; a
    /// reference manager fills the rest in from the DOI or PMID.
    pub fn render_bibtex(&self) -> String {
        let mut s = String::from(BIB_NEUROMORPHO);
        let mut rows: Vec<_> = self.publications.values().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (pmid, doi, count) in rows {
            let pmid = pmid.as_deref().map(bib_value);
            let doi = doi.as_deref().map(bib_value);
            let key = match (&pmid, &doi) {
                (Some(p), _) => format!("pmid{}", bib_key(p)),
                (None, Some(d)) => format!("doi_{}", bib_key(d)),
                (None, None) => continue,
            };
            let _ = writeln!(s, "@misc{{{key},");
            if let Some(d) = &doi {
                let _ = writeln!(s, "  doi = {{{d}}},");
            }
            if let Some(p) = &pmid {
                let _ = writeln!(s, "  eprint = {{{p}}},\n  eprinttype = {{pubmed}},");
            }
            let url = match (&doi, &pmid) {
                (Some(d), _) => format!("https://doi.org/{d}"),
                (None, Some(p)) => format!("https://pubmed.ncbi.nlm.nih.gov/{p}/"),
                _ => String::new(),
            };
            let _ = writeln!(s, "  url = {{{url}}},");
            let _ = writeln!(
                s,
                "  note = {{Source publication of {count} neuron(s) from NeuroMorpho.Org. \
                 NeuroMorpho.Org gives no title: look the publication up by its DOI or PMID.}}\n}}\n"
            );
        }
        s
    }

    /// Write the BibTeX (atomically) to `path`, e.g. `CITATIONS.bib`. Returns its path.
    pub fn write_bibtex_to(&self, path: &Path) -> Result<PathBuf> {
        write_atomically(path, self.render_bibtex().as_bytes(), true)
            .map_err(|e| Error::io(path, e))?;
        Ok(path.to_path_buf())
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

/// NeuroMorpho.Org's own references: what its terms of use ask every user to cite.
const BIB_NEUROMORPHO: &str = "@misc{neuromorpho_org,
  title = {NeuroMorpho.Org},
  url = {https://neuromorpho.org},
  note = {RRID:SCR_002145}
}

@article{ascoli2007neuromorpho,
  author = {Ascoli, Giorgio A. and Donohue, Duncan E. and Halavi, Maryam},
  title = {{NeuroMorpho.Org}: a central resource for neuronal morphologies},
  journal = {Journal of Neuroscience},
  year = {2007},
  volume = {27},
  number = {35},
  pages = {9247--9251},
  doi = {10.1523/JNEUROSCI.2055-07.2007}
}

@article{tecuatl2024accelerating,
  author = {Tecuatl, Carolina and Ljungquist, Bengt and Ascoli, Giorgio A.},
  title = {Accelerating the continuous community sharing of digital neuromorphology data},
  journal = {FASEB BioAdvances},
  year = {2024},
  volume = {6},
  number = {7},
  pages = {207--221},
  doi = {10.1096/fba.2024-00048}
}

";

/// A value in a Markdown table cell: no terminal escape, no column break.
fn markdown_cell(s: &str) -> String {
    crate::util::text::for_table(s)
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// A value between BibTeX braces: no brace or backslash of its own, one line.
fn bib_value(s: &str) -> String {
    crate::util::text::for_table(s)
        .chars()
        .filter(|c| !matches!(c, '{' | '}' | '\\' | '\n'))
        .collect()
}

/// A BibTeX key part: letters, digits, `-`, `.`, `_`, `:` only.
fn bib_key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bibtex_has_every_publication_and_no_invented_title() {
        let mut c = Citations::new();
        c.add(
            &["12204204".into(), "12902394".into()],
            &[
                "10.1016/S0306-4522(02)00305-6".into(),
                "10.1093/cercor/13.9.950".into(),
            ],
        );
        c.add(&[], &["10.5555/x{y}".into()]);
        let bib = c.render_bibtex();
        assert!(bib.contains("@misc{pmid12204204,"), "{bib}");
        assert!(bib.contains("eprint = {12902394}"), "{bib}");
        assert!(
            bib.contains("doi = {10.1016/S0306-4522(02)00305-6}"),
            "{bib}"
        );
        assert!(
            bib.contains("@misc{doi_10.5555_xy,") && bib.contains("doi = {10.5555/xy}"),
            "{bib}"
        );
        assert!(bib.contains("doi = {10.1096/fba.2024-00048}"));
        assert!(bib.contains("RRID:SCR_002145"));
        // The source entries carry no title: the server gives none.
        let sources = bib.split("@misc{pmid").skip(1).collect::<Vec<_>>().join("");
        assert!(!sources.contains("title ="), "{sources}");
        // Balanced braces: a reference manager can read it.
        assert_eq!(bib.matches('{').count(), bib.matches('}').count());
    }
}
