//! One neuron's file fetched into memory: its raw bytes, or its standardized SWC parsed.

use crate::archive::files::FileKind;
use crate::archive::Neuron;
use crate::client::{Client, Req};
use crate::error::{Error, Result};
use crate::swc::Morphology;

/// The largest buffer reserved up front from a `Content-Length` (the body may still be up to
/// the client's maximum file size; the buffer then grows as it comes).
const RESERVE_LIMIT: u64 = 64 << 20;

impl Client {
    /// The standardized SWC file of a neuron (`CNG version/<name>.CNG.swc`), fetched into
    /// memory and parsed: neuromorphopy's `get_neuron_swc`. Nothing is written to disk.
    ///
    /// One request (retried like any other on transient failures). The body is checked as it
    /// streams, as a download's is: an HTML page, a body that does not start like SWC, one
    /// cut short or larger than [`ClientBuilder::max_file_size`](crate::ClientBuilder::max_file_size)
    /// is an [`Error::Request`] (with [`FailureKind::NotSwc`](crate::FailureKind::NotSwc),
    /// `Incomplete` or `TooLarge`); so is a failed request (a missing file is status 404,
    /// [`FailureKind::NotFound`](crate::FailureKind::NotFound)). A body the reader refuses
    /// is an [`Error::Swc`] naming the URL and the line. A record without `neuron_name` or
    /// `archive` is an [`Error::InvalidRecord`], and nothing is sent.
    ///
    /// The morphology is returned as read, even when it is not a usable tree: call
    /// [`Morphology::validate`] for its issues and [`Morphology::measures`] for NeuroM's
    /// measures.
    ///
    /// ```no_run
    /// use neuromorpho::Client;
    ///
    /// let client = Client::new()?;
    /// let neuron = client.neurons_by_name(["cnic_001"])?.found.remove(0);
    /// let morphology = client.fetch_morphology(&neuron)?;
    /// let measures = morphology.measures();
    /// println!("{} points, {} stems, {:.1} µm", measures.points, measures.stems, measures.total_length);
    /// for issue in morphology.validate().issues {
    ///     println!("{issue}");
    /// }
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn fetch_morphology(&self, neuron: &Neuron) -> Result<Morphology> {
        let url = file_url(self, neuron, FileKind::Cng)?;
        let bytes = self.fetch_body(&url, crate::swc::Expect::Swc)?;
        Morphology::from_bytes(&bytes).map_err(|source| Error::Swc {
            url: crate::util::text::redact(&url).into_owned(),
            source: Box::new(source),
        })
    }

    /// The bytes of one of a neuron's files, fetched into memory (nothing is written to
    /// disk): one request, the body checked as a download's is (never an HTML page; an SWC
    /// file, the CNG one or an original named `.swc`, must start like one and not be cut),
    /// and at most [`ClientBuilder::max_file_size`](crate::ClientBuilder::max_file_size)
    /// bytes. Errors as for [`Client::fetch_morphology`]; for an original, a record whose
    /// `original_format` has no file extension is an [`Error::InvalidRecord`] too.
    pub fn fetch_file(&self, neuron: &Neuron, kind: FileKind) -> Result<Vec<u8>> {
        let url = file_url(self, neuron, kind)?;
        self.fetch_body(&url, kind.expects(neuron.original_format()))
    }

    /// One GET of `url`, its checked body in memory.
    fn fetch_body(&self, url: &str, expect: crate::swc::Expect) -> Result<Vec<u8>> {
        self.request(&Req::file(url), |answer| {
            let reserve = answer.content_length().unwrap_or(0).min(RESERVE_LIMIT);
            let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
            answer.copy_checked(&mut body, expect)?;
            Ok(body)
        })
    }
}

/// The URL of a neuron's file on the client's server, or why the record has none.
fn file_url(client: &Client, neuron: &Neuron, kind: FileKind) -> Result<String> {
    if let Some(url) = neuron.file_url(client.base_url(), kind) {
        return Ok(url);
    }
    let record = neuron
        .neuron_id()
        .map(|id| format!("record neuron_id {id}"))
        .unwrap_or_else(|| "a record without neuron_id".into());
    let message = if neuron.neuron_name().trim().is_empty() {
        format!("{record} has no neuron_name")
    } else if neuron.archive().trim().is_empty() {
        format!("{record} has no archive")
    } else {
        format!(
            "{record}: no original file extension in original_format {:?}",
            neuron.original_format().unwrap_or("")
        )
    };
    Err(Error::InvalidRecord {
        neuron_id: neuron.neuron_id(),
        message,
    })
}
