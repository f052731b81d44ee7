//! SWC files: the quick check of a downloaded body as it streams ([`SwcCheck`]), and the
//! reader, validator, measures and file checks.
//!
//! [`Morphology::from_bytes`] (or [`Morphology::from_reader`], [`Morphology::from_path`])
//! reads SWC into typed [`Point`]s in file order, the `#` [`Comment`]s, and the tree (parent
//! and children of each point), built once, in O(n). [`Morphology::validate`] lists the
//! [`Issue`]s; [`Morphology::measures`] computes NeuroM's measures (see [`measure`] for their
//! exact definitions). [`check_bytes`], [`check_reader`] and [`check_file`] do all three and
//! never fail: a file that cannot be read or parsed gives a [`Report`] with its error.
//! [`check_paths`] checks files and folders in parallel, one [`FileReport`] at a time.
//!
//! ```
//! use neuromorpho::swc::{check_bytes, IssueCode, Morphology};
//!
//! let swc = b"# a header\n1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n4 2 0 -5 0 1 1\n";
//! let m = Morphology::from_bytes(swc)?;
//! assert_eq!(m.points().len(), 4);
//! assert_eq!(m.children(0).collect::<Vec<_>>(), [1, 3]);
//! let measures = m.measures();
//! assert_eq!((measures.stems, measures.tips, measures.total_length), (2, 2, 4.0));
//! assert!(m.validate().is_usable());
//!
//! let err = Morphology::from_bytes(b"1 1 0 0 0 5 -1\n2 3 abc 5 0 1 1\n").unwrap_err();
//! assert_eq!(err.to_string(), "line 2: 'abc' is not a number (x)");
//!
//! let report = check_bytes(b"<!DOCTYPE html><html>503</html>");
//! assert_eq!(report.issues[0].code, IssueCode::Html);
//! assert_eq!(report.points, None);
//! # Ok::<(), neuromorpho::swc::ParseError>(())
//! ```
//!
//! ## What the reader accepts
//!
//! Any line ending (LF, CRLF, CR, mixed), a UTF-8 byte order mark, fields separated by runs
//! of spaces, tabs, vertical tabs or form feeds, blank lines, `#` comment lines anywhere, a
//! `#` comment after the 7 fields of a data line (a `#` inside the 7 fields ends them: too
//! few fields), extra fields after the 7th (ignored, as MorphIO does), and bytes that are not
//! UTF-8 in comments and extra fields (never an error; the `non-ascii` warning). Id, type
//! and parent are integers (64-bit for ids, 32-bit for types; `2.0` is refused, as MorphIO
//! cannot read it either); x, y, z and radius are decimal numbers. NaN and infinities are
//! read, and refused by the validator (`non-finite`), so that the report names the line.
//! Ids may be sparse, negative or huge: they are looked up in a table only when they are
//! dense, else in a sorted index, so memory is linear in the number of points.
//!
//! ## Issue codes
//!
//! Errors: the file is not a usable tree, and the report carries no tree measures. The
//! first seven arise while reading (a [`ParseError`]: reading stops at the first); the
//! others are found by the validator. Warnings: the tree is usable, but a user, or a tool
//! downstream, should know. "MorphIO" is MorphIO 3.5.0's SWC reader, which NeuroM 4 uses:
//! every statement about it was checked on the hand-made files of `fixtures/swc-broken/`
//! (see `fixtures/neurom/MEASURES.md`).
//!
//! | code | severity | meaning | downstream |
//! |---|---|---|---|
//! | `io` | error | the file cannot be read (missing, permissions, broken link, a folder) | — |
//! | `too-large` | error | larger than [`CheckOptions::max_file_size`], or more than 2³²−3 points | — |
//! | `empty` | error | no data line: an empty file, blank lines, or only comments | MorphIO reads an empty morphology without a word |
//! | `html` | error | the first line that is not blank starts with `<`: an HTML error page (or XML) saved as `.swc` | MorphIO: "Unable to parse this line" |
//! | `too-few-fields` | error | a data line with fewer than 7 fields | MorphIO: "Unable to parse this line" |
//! | `not-a-number` | error | a field is not a number (`abc`, `1,5`) | MorphIO: "Unable to parse this line" |
//! | `not-an-integer` | error | an id, type or parent with a decimal point or an exponent, or out of range | MorphIO misreads the line (`2.5 3 …`: "Sample id: 2 refers to non-existant parent ID: 0") |
//! | `non-finite` | error | x, y, z or radius is NaN or infinite | MorphIO: "Unable to parse this line" |
//! | `bad-id` | error | a negative id (`-1` means "no parent") | MorphIO: "The ID assigned to this line is negative" |
//! | `duplicate-id` | error | an id already used by an earlier line (parents then refer to the first) | MorphIO: "Repeated ID" |
//! | `missing-parent` | error | a parent id that is no point's id (parents below `-1` included) | MorphIO: `MissingParentError` |
//! | `cycle` | error | following parents from a point comes back to it (a point that is its own parent included) | MorphIO refuses a point that is its own parent, but loads a longer cycle and silently drops its points |
//! | `no-root` | error | no point has parent `-1` (there is then a cycle, or a missing parent) | MorphIO refuses it, with whichever error it meets first |
//! | `several-roots` | warning | more than one point has parent `-1`; the message says whether the extra root is another soma or a neurite not attached to the soma | soma roots: MorphIO refuses ("Multiple somata found"); neurite roots: MorphIO warns (`DisconnectedNeurite`) and NeuroM counts each as a neurite |
//! | `no-soma` | warning | no point of type 1 | MorphIO warns (`NoSomaFound`); NeuroM's soma features give 0 (`soma_radius`) |
//! | `multi-point-soma` | warning | a soma of several points; the message names the shape: NeuroMorpho's 3-point cylinder, a stack of cylinders, a contour (an outline that closes), a branched soma, or several groups | MorphIO recognises the 3-point soma only with ids 1, 2, 3 and parents −1, 1, 1 (else it reads a stack of cylinders); readers that expect one soma point find several (Brayns #620, "3 soma found") |
//! | `soma-bifurcation` | warning | a soma point that is not the soma's root forks into several soma points (the line of that point) | MorphIO and NeuroM refuse the file: "Found soma bifurcation" (NeuroM #613; `dCH-cobalt.CNG.swc`) |
//! | `soma-child-of-neurite` | warning | a soma point whose parent is a neurite point | MorphIO refuses: "Found a soma point with a neurite as parent" |
//! | `unsupported-type` | warning | a type that is negative or 20 and above, or 0 ("undefined") | MorphIO 3.5 refuses negative types and types from 20; MorphIO before 3.5 also refuses 0 |
//! | `unifurcation` | warning | the type changes at a point that has a single child (the line of that point) | MorphIO refuses ("Section type changed without a bifurcation") unless `ALLOW_UNIFURCATED_SECTION_CHANGE`; with it, NeuroM's `has_unifurcation` fails |
//! | `type-change` | warning | a branch leaving a fork has another type than the fork (an axon from a dendrite) | MorphIO reads it; NeuroM types a neurite by its first section, so per-type measures count the branch under the neurite's type |
//! | `multifurcation` | warning | a neurite point with three children or more | NeuroM counts it neither as a bifurcation nor as a leaf; its `has_multifurcation` flags only four children or more |
//! | `non-positive-radius` | warning | a radius of 0 or less | MorphIO warns (`ZeroDiameter`); NeuroM's `has_all_nonzero_neurite_radii` or `has_nonzero_soma_radius` fail |
//! | `zero-length-segment` | warning | a neurite point at the exact position of its (neurite) parent | NeuroM's `has_all_nonzero_segment_lengths` fails |
//! | `out-of-order` | warning | a point's parent is listed after it | MorphIO and NeuroM read it; a reader that builds the tree in one pass, parents first, may not |
//! | `non-ascii` | warning | bytes that are not ASCII in comments or extra fields (the message says whether they are valid UTF-8) | MorphIO reads it; Python's `open()` in text mode fails on bytes that are not UTF-8 (`UnicodeDecodeError`) |
//!
//! Each issue names the line (1-based) where it applies, when it applies to one line. At
//! most [`ISSUES_PER_CODE`] issues of one code are listed; the others are folded into one
//! last issue of that code, and still counted in [`Validation::errors`] and
//! [`Validation::warnings`].

mod sniff;

pub use sniff::{SwcCheck, Verdict};

mod check;
mod issue;
pub mod measure;
mod parse;
mod validate;

pub use check::{
    check_bytes, check_file, check_paths, check_reader, CheckOptions, CheckSummary, FileReport,
    Report,
};
pub use issue::{Issue, IssueCode, Severity};
pub use measure::{BoundingBox, Measures};
pub use parse::{Comment, Morphology, ParseError, Point, SwcError};
pub use validate::{Validation, ISSUES_PER_CODE};
