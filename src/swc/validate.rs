//! The validator: what makes a parsed file unusable (errors) or surprising (warnings).

use super::issue::{Issue, IssueCode, Severity};
use super::parse::{Morphology, Point, MISSING, ROOT};

/// The most issues of one code listed one by one; the rest are folded into one last issue of
/// that code (no line, "... and N more"), so that a file of a million zero radii gives a
/// short report.
pub const ISSUES_PER_CODE: usize = 10;

/// What [`Morphology::validate`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation {
    /// The issues, by line (issues without a line last); at most [`ISSUES_PER_CODE`] per
    /// code plus one folded issue.
    pub issues: Vec<Issue>,
    /// How many errors were found, folded ones included.
    pub errors: usize,
    /// How many warnings were found, folded ones included.
    pub warnings: usize,
}

impl Validation {
    /// Whether the file is a usable tree (no error).
    pub fn is_usable(&self) -> bool {
        self.errors == 0
    }

    /// Whether an issue of this code was found.
    pub fn has(&self, code: IssueCode) -> bool {
        self.issues.iter().any(|i| i.code == code)
    }
}

/// Collects issues, counting all of them but keeping at most `ISSUES_PER_CODE` per code.
struct Collector {
    issues: Vec<Issue>,
    counts: Vec<usize>,
    errors: usize,
    warnings: usize,
}

impl Collector {
    fn new() -> Collector {
        Collector {
            issues: Vec::new(),
            counts: vec![0; IssueCode::ALL.len()],
            errors: 0,
            warnings: 0,
        }
    }

    /// Record one issue; the message is only built when it is kept.
    fn push(&mut self, code: IssueCode, line: Option<usize>, message: impl FnOnce() -> String) {
        match code.severity() {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let count = match self.counts.get_mut(code as usize) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => 1,
        };
        if count <= ISSUES_PER_CODE {
            self.issues.push(Issue::new(code, line, message()));
        }
    }

    fn finish(mut self) -> Validation {
        for (&code, &count) in IssueCode::ALL.iter().zip(&self.counts) {
            if count > ISSUES_PER_CODE {
                let more = count - ISSUES_PER_CODE;
                self.issues.push(Issue::new(
                    code,
                    None,
                    format!("... and {more} more {code} issue{}", plural(more)),
                ));
            }
        }
        // Stable: within a line, the order of the checks below.
        self.issues
            .sort_by_key(|i| (i.line.is_none(), i.line.unwrap_or(0)));
        Validation {
            issues: self.issues,
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The name of an SWC type, for messages.
pub(crate) fn type_name(kind: i32) -> String {
    match kind {
        0 => "0 (undefined)".to_string(),
        1 => "1 (soma)".to_string(),
        2 => "2 (axon)".to_string(),
        3 => "3 (basal dendrite)".to_string(),
        4 => "4 (apical dendrite)".to_string(),
        k if k < 0 => format!("{k} (negative)"),
        k => format!("{k} (custom)"),
    }
}

/// A list of ids for a message, cut after a few.
fn id_list(ids: impl Iterator<Item = i64>, sep: &str) -> String {
    let mut out = Vec::new();
    for (n, id) in ids.enumerate() {
        if n == 6 {
            out.push("…".to_string());
            break;
        }
        out.push(id.to_string());
    }
    out.join(sep)
}

impl Morphology {
    /// Check the file: the errors that make it unusable as a tree and the warnings a user
    /// should know about. See the table of codes on [`IssueCode`](crate::swc::IssueCode).
    pub fn validate(&self) -> Validation {
        let mut c = Collector::new();
        let points = self.points();
        let parents = self.parent_indices();
        let point = |i: usize| points.get(i);

        let mut roots = 0usize;
        for (i, (p, &parent)) in points.iter().zip(parents).enumerate() {
            let line = Some(p.line);
            let finite = p.x.is_finite() && p.y.is_finite() && p.z.is_finite();
            if !(finite && p.radius.is_finite()) {
                let bad: Vec<&str> = [("x", p.x), ("y", p.y), ("z", p.z), ("radius", p.radius)]
                    .iter()
                    .filter(|(_, v)| !v.is_finite())
                    .map(|(name, _)| *name)
                    .collect();
                c.push(IssueCode::NonFinite, line, || {
                    format!("point {}: {} not finite (NaN or infinite)", p.id, {
                        let list = bad.join(", ");
                        if bad.len() == 1 {
                            format!("{list} is")
                        } else {
                            format!("{list} are")
                        }
                    })
                });
            } else if p.radius <= 0.0 {
                c.push(IssueCode::NonPositiveRadius, line, || {
                    format!("point {}: radius {}", p.id, p.radius)
                });
            }
            if p.id < 0 {
                c.push(IssueCode::BadId, line, || {
                    format!("id {} is negative (-1 means 'no parent')", p.id)
                });
            }
            if p.kind <= 0 || p.kind >= 20 {
                c.push(IssueCode::UnsupportedType, line, || {
                    let why = if p.kind == 0 {
                        "MorphIO before 3.5 refuses it"
                    } else {
                        "MorphIO refuses types below 0 and from 20"
                    };
                    format!("point {}: type {}; {why}", p.id, type_name(p.kind))
                });
            }
            if !p.is_soma() && self.child_count(i) > 2 {
                c.push(IssueCode::Multifurcation, line, || {
                    format!("point {} has {} children", p.id, self.child_count(i))
                });
            }
            match parent {
                ROOT => roots += 1,
                MISSING => c.push(IssueCode::MissingParent, line, || {
                    let hint = if p.parent < -1 {
                        " (a root's parent is -1)"
                    } else {
                        ""
                    };
                    format!(
                        "point {}: parent {} is not in the file{hint}",
                        p.id, p.parent
                    )
                }),
                q => {
                    let Some(pp) = point(q as usize) else {
                        continue;
                    };
                    if q as usize > i {
                        c.push(IssueCode::OutOfOrder, line, || {
                            format!(
                                "point {}: its parent {} comes later (line {})",
                                p.id, pp.id, pp.line
                            )
                        });
                    }
                    self.check_segment(&mut c, p, q as usize, pp);
                }
            }
        }

        for &d in self.duplicate_indices() {
            if let Some(p) = point(d as usize) {
                let first = self.index_of(p.id).and_then(point);
                c.push(IssueCode::DuplicateId, Some(p.line), || match first {
                    Some(f) => format!("id {} is already used on line {}", p.id, f.line),
                    None => format!("id {} is already used", p.id),
                });
            }
        }

        self.check_cycles(&mut c);

        if roots == 0 {
            c.push(IssueCode::NoRoot, None, || {
                "no point has parent -1: there is no root".to_string()
            });
        }
        if roots > 1 {
            self.check_roots(&mut c, roots);
        }
        self.check_soma(&mut c);

        let text = self.text_stats();
        if let Some(first) = text.first_non_ascii_line {
            c.push(IssueCode::NonAscii, Some(first), || {
                let n = text.non_ascii_lines;
                let utf8 = if text.non_utf8_lines > 0 {
                    format!(
                        "; {} not valid UTF-8 (a Python reader decoding UTF-8 fails)",
                        if text.non_utf8_lines == 1 {
                            "it is".to_string()
                        } else {
                            format!("{} are", text.non_utf8_lines)
                        }
                    )
                } else {
                    String::new()
                };
                format!("{n} line{} with bytes that are not ASCII{utf8}", plural(n))
            });
        }
        c.finish()
    }

    /// The checks on one child-parent pair.
    fn check_segment(&self, c: &mut Collector, p: &Point, q: usize, pp: &Point) {
        match (p.is_soma(), pp.is_soma()) {
            (true, false) => c.push(IssueCode::SomaChildOfNeurite, Some(p.line), || {
                format!(
                    "soma point {} has a neurite parent {} (type {}): MorphIO refuses the file",
                    p.id,
                    pp.id,
                    type_name(pp.kind)
                )
            }),
            // Soma chains are checked in `check_soma`; a neurite leaving the soma is normal.
            (true, true) | (false, true) => {}
            (false, false) => {
                if p.xyz() == pp.xyz() {
                    c.push(IssueCode::ZeroLengthSegment, Some(p.line), || {
                        format!("point {} is at the position of its parent {}", p.id, pp.id)
                    });
                }
                if p.kind != pp.kind {
                    if self.child_count(q) == 1 {
                        c.push(IssueCode::Unifurcation, Some(pp.line), || {
                            format!(
                                "the type changes from {} to {} at point {} (line {}) without a fork: MorphIO refuses the file (\"Section type changed without a bifurcation\")",
                                type_name(pp.kind),
                                type_name(p.kind),
                                pp.id,
                                p.line
                            )
                        });
                    } else {
                        c.push(IssueCode::TypeChange, Some(p.line), || {
                            format!(
                                "a branch of type {} leaves point {} of type {}",
                                type_name(p.kind),
                                pp.id,
                                type_name(pp.kind)
                            )
                        });
                    }
                }
            }
        }
    }

    fn check_cycles(&self, c: &mut Collector) {
        let parents = self.parent_indices();
        // 0: not seen, 1: on the walk in progress, 2: done (its ancestors end at a root).
        let mut state = vec![0u8; parents.len()];
        let mut walk: Vec<usize> = Vec::new();
        for start in 0..parents.len() {
            let mut at = start;
            loop {
                match state.get(at).copied() {
                    Some(0) => {
                        if let Some(s) = state.get_mut(at) {
                            *s = 1;
                        }
                        walk.push(at);
                        match parents.get(at).copied() {
                            Some(ROOT) | Some(MISSING) | None => break,
                            Some(q) => at = q as usize,
                        }
                    }
                    Some(1) => {
                        let from = walk.iter().rposition(|&x| x == at).unwrap_or(0);
                        self.report_cycle(c, walk.get(from..).unwrap_or(&[]));
                        break;
                    }
                    _ => break,
                }
            }
            for &x in &walk {
                if let Some(s) = state.get_mut(x) {
                    *s = 2;
                }
            }
            walk.clear();
        }
    }

    fn report_cycle(&self, c: &mut Collector, cycle: &[usize]) {
        let Some(&first) = cycle.iter().min() else {
            return;
        };
        let Some(p) = self.points().get(first) else {
            return;
        };
        let ids = || {
            cycle
                .iter()
                .filter_map(|&i| self.points().get(i))
                .map(|p| p.id)
        };
        c.push(IssueCode::Cycle, Some(p.line), || {
            if cycle.len() == 1 {
                format!("point {} is its own parent", p.id)
            } else {
                let list = id_list(ids().chain(ids().take(1)), " -> ");
                format!(
                    "point {} is its own ancestor: a cycle of {} points (child -> parent: {list})",
                    p.id,
                    cycle.len()
                )
            }
        });
    }

    fn check_roots(&self, c: &mut Collector, roots: usize) {
        // Said first in every message, so that the count survives the folding of a long list.
        let somata = self
            .roots()
            .filter(|&r| self.points().get(r).is_some_and(Point::is_soma))
            .count();
        let mut soma_roots = 0usize;
        for (n, r) in self.roots().enumerate() {
            let Some(p) = self.points().get(r) else {
                continue;
            };
            if p.is_soma() {
                soma_roots += 1;
            }
            if n == 0 {
                continue;
            }
            let why = if p.is_soma() && soma_roots > 1 {
                "another soma root: MorphIO refuses several somata (\"Multiple somata found\")"
                    .to_string()
            } else if p.is_soma() {
                "the soma root; the earlier root(s) are neurites not attached to it".to_string()
            } else {
                format!(
                    "a neurite of type {} not attached to the soma (NeuroM counts it as a neurite)",
                    type_name(p.kind)
                )
            };
            c.push(IssueCode::SeveralRoots, Some(p.line), || {
                format!(
                    "{roots} roots ({somata} of them soma points): point {} is a root too, {why}",
                    p.id
                )
            });
        }
    }

    fn check_soma(&self, c: &mut Collector) {
        let points = self.points();
        let soma: Vec<usize> = (0..points.len())
            .filter(|&i| points.get(i).is_some_and(Point::is_soma))
            .collect();
        let Some(first) = soma.first().and_then(|&i| points.get(i)) else {
            c.push(IssueCode::NoSoma, None, || {
                "no soma point (type 1): MorphIO and NeuroM read it with an undefined soma"
                    .to_string()
            });
            return;
        };
        // Soma points forking below the soma root (MorphIO: "Found soma bifurcation").
        for &s in &soma {
            let Some(p) = points.get(s) else { continue };
            let parent_is_soma = self
                .parent(s)
                .and_then(|q| points.get(q))
                .is_some_and(Point::is_soma);
            if !parent_is_soma {
                continue;
            }
            let forks: Vec<&Point> = self
                .children(s)
                .filter_map(|ch| points.get(ch))
                .filter(|ch| ch.is_soma())
                .collect();
            if forks.len() > 1 {
                c.push(IssueCode::SomaBifurcation, Some(p.line), || {
                    let lines: Vec<String> = forks.iter().map(|f| f.line.to_string()).collect();
                    format!(
                        "soma point {} forks into {} soma points (lines {}): MorphIO and NeuroM refuse the file (\"Found soma bifurcation\")",
                        p.id,
                        forks.len(),
                        lines.join(", ")
                    )
                });
            }
        }
        if soma.len() > 1 {
            let shape = self.soma_shape(&soma);
            c.push(IssueCode::MultiPointSoma, Some(first.line), || shape);
        }
    }

    /// Describe a soma of several points.
    fn soma_shape(&self, soma: &[usize]) -> String {
        let points = self.points();
        let n = soma.len();
        let is_soma = |i: usize| points.get(i).is_some_and(Point::is_soma);
        let soma_children = |i: usize| self.children(i).filter(|&ch| is_soma(ch)).count();
        let soma_parent = |i: usize| self.parent(i).filter(|&q| is_soma(q));
        let groups = soma.iter().filter(|&&s| soma_parent(s).is_none()).count();
        let degree = |i: usize| soma_children(i) + usize::from(soma_parent(i).is_some());

        if groups > 1 {
            return format!("{n}-point soma in {groups} separate groups");
        }
        if n == 3 {
            let root = soma.iter().copied().find(|&s| soma_parent(s).is_none());
            if root.is_some_and(|r| soma_children(r) == 2) {
                let morphio_ids = soma
                    .iter()
                    .filter_map(|&s| points.get(s))
                    .map(|p| (p.id, p.parent))
                    .eq([(1, -1), (2, 1), (3, 1)]);
                let mut text = "3-point soma (NeuroMorpho's convention: a cylinder along y, as 3 points with the first as parent of the other two)".to_string();
                if !morphio_ids {
                    text.push_str("; MorphIO reads it as a stack of cylinders because its ids are not 1, 2, 3 with parents -1, 1, 1");
                }
                return text;
            }
        }
        if soma.iter().any(|&s| degree(s) > 2) {
            return format!("{n}-point soma, branched (a tree of soma points)");
        }
        // An unbranched chain: an outline if it closes on itself, else a stack of cylinders.
        let ends: Vec<&Point> = soma
            .iter()
            .filter(|&&s| degree(s) <= 1)
            .filter_map(|&s| points.get(s))
            .collect();
        let longest_step = soma
            .iter()
            .filter_map(|&s| {
                let q = soma_parent(s)?;
                Some(points.get(s)?.distance(points.get(q)?))
            })
            .fold(0.0f64, f64::max);
        let closed = match ends.as_slice() {
            [a, b] => n >= 4 && a.distance(b) <= longest_step,
            _ => false,
        };
        if closed {
            format!("{n}-point soma: a contour (an outline that closes on itself)")
        } else {
            format!("{n}-point soma: a stack of cylinders along a line of points")
        }
    }
}
