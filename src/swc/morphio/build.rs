//! MorphIO 3.5's SWC builder (`SWCBuilder`), rule for rule: the checks in its order, the
//! soma, and the sections it assembles, numbered as its immutable `Morphology` numbers them.

use super::{Refusal, RefusalKind, Sample, SomaKind, Tree, TreePoint, TreeSection, SWC_ROOT};
use super::{WarningKind, Warnings};

/// `SECTION_OUT_OF_RANGE_START`: types from 20 are refused.
const FIRST_UNSUPPORTED_TYPE: i32 = 20;
const SOMA: i32 = 1;
/// Parent index of a root.
const NO_PARENT: u32 = u32::MAX;
/// `morphio::epsilon`.
const EPSILON: f32 = 1e-6;

/// Where each id is: a table when ids are dense, else sorted pairs.
enum Ids {
    Dense { min: u32, slots: Vec<u32> },
    Sorted(Vec<(u32, u32)>),
}

impl Ids {
    fn get(&self, id: u32) -> Option<u32> {
        match self {
            Ids::Dense { min, slots } => {
                let at = id.checked_sub(*min)? as usize;
                slots.get(at).copied().filter(|&i| i != NO_PARENT)
            }
            Ids::Sorted(pairs) => {
                let at = pairs.partition_point(|&(i, _)| i < id);
                pairs.get(at).filter(|p| p.0 == id).map(|p| p.1)
            }
        }
    }
}

/// The index of each id's first sample, and the first sample (in file order) whose id was
/// already used, with the sample it repeats.
fn index_ids(samples: &[Sample]) -> (Ids, Option<(usize, usize)>) {
    let n = samples.len();
    let (min, max) = samples
        .iter()
        .fold((u32::MAX, 0u32), |(lo, hi), s| (lo.min(s.id), hi.max(s.id)));
    let span = u64::from(max.saturating_sub(min)) + 1;
    if n == 0 || span <= 2 * n as u64 + 64 {
        let mut slots = vec![NO_PARENT; if n == 0 { 0 } else { span as usize }];
        let mut repeat = None;
        for (i, s) in samples.iter().enumerate() {
            if let Some(slot) = slots.get_mut((s.id - min) as usize) {
                if *slot == NO_PARENT {
                    *slot = i as u32;
                } else if repeat.is_none() {
                    repeat = Some((i, *slot as usize));
                }
            }
        }
        return (Ids::Dense { min, slots }, repeat);
    }
    let mut pairs: Vec<(u32, u32)> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i as u32))
        .collect();
    pairs.sort_unstable();
    // The first repeat in file order: the smallest second index among equal ids.
    let mut repeat: Option<(usize, usize)> = None;
    for w in pairs.windows(2) {
        if let [a, b] = w {
            if a.0 == b.0 && repeat.is_none_or(|(r, _)| (b.1 as usize) < r) {
                repeat = Some((b.1 as usize, a.1 as usize));
            }
        }
    }
    pairs.dedup_by_key(|p| p.0);
    (Ids::Sorted(pairs), repeat)
}

/// Children of each sample, in file order (compressed rows).
pub(crate) struct Children {
    start: Vec<u32>,
    list: Vec<u32>,
}

impl Children {
    fn new(parents: &[u32]) -> Children {
        let n = parents.len();
        let mut start = vec![0u32; n + 1];
        for &p in parents {
            if let Some(s) = start.get_mut(p as usize + 1) {
                *s += 1;
            }
        }
        let mut total = 0u32;
        for s in start.iter_mut() {
            total += *s;
            *s = total;
        }
        let mut next = start.clone();
        let mut list = vec![0u32; total as usize];
        for (i, &p) in parents.iter().enumerate() {
            if let Some(at) = next.get_mut(p as usize) {
                if let Some(slot) = list.get_mut(*at as usize) {
                    *slot = i as u32;
                }
                *at += 1;
            }
        }
        Children { start, list }
    }

    fn of(&self, i: usize) -> &[u32] {
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => self.list.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// How samples are linked, once every parent is known: each one's parent (an index, or
/// `u32::MAX` for a root) and children (in file order).
pub(crate) trait Links {
    fn parents(&self) -> &[u32];
    fn children(&self, i: usize) -> &[u32];
}

struct OwnLinks {
    parents: Vec<u32>,
    children: Children,
}

impl Links for OwnLinks {
    fn parents(&self) -> &[u32] {
        &self.parents
    }

    fn children(&self, i: usize) -> &[u32] {
        self.children.of(i)
    }
}

/// What the checks before the soma need to know of the ids: the first sample whose id
/// repeats an earlier one (with that one), and the first whose parent is no sample.
pub(crate) struct IdFacts {
    pub(crate) repeat: Option<(usize, usize)>,
    pub(crate) missing_parent: Option<usize>,
}

fn refuse(kind: RefusalKind, s: &Sample) -> Refusal {
    Refusal::new(kind, Some(s.line as usize), s.morphio_line as usize)
}

/// What MorphIO does with the samples: its warnings in the order it emits them, and the tree
/// it builds or why it refuses the file.
pub(crate) fn build(samples: &[Sample], warnings: &mut Warnings) -> Result<Tree, Refusal> {
    let (ids, repeat) = index_ids(samples);
    let mut parents = Vec::with_capacity(samples.len());
    let mut missing_parent = None;
    for (i, s) in samples.iter().enumerate() {
        if s.parent == SWC_ROOT {
            parents.push(NO_PARENT);
        } else if let Some(p) = ids.get(s.parent) {
            parents.push(p);
        } else {
            missing_parent.get_or_insert(i);
            parents.push(NO_PARENT);
        }
    }
    let children = Children::new(&parents);
    let links = OwnLinks { parents, children };
    let facts = IdFacts {
        repeat,
        missing_parent,
    };
    build_linked(samples, &facts, &links, warnings)
}

/// [`build`] with the links already known.
pub(crate) fn build_linked(
    samples: &[Sample],
    facts: &IdFacts,
    links: &dyn Links,
    warnings: &mut Warnings,
) -> Result<Tree, Refusal> {
    // An id equal to MorphIO's root marker makes it loop on the roots (it never returns).
    if let Some(s) = samples.iter().find(|s| s.id == SWC_ROOT) {
        return Err(refuse(RefusalKind::RootMarkerId, s));
    }
    let repeat = facts.repeat;
    for (i, s) in samples.iter().enumerate() {
        if s.diameter < EPSILON {
            warnings.push(WarningKind::ZeroDiameter, Some(s.line as usize));
        }
        if s.parent == s.id {
            return Err(refuse(RefusalKind::SelfParent, s));
        }
        if s.kind >= FIRST_UNSUPPORTED_TYPE {
            return Err(refuse(RefusalKind::UnsupportedType(s.kind), s));
        }
        if s.parent == SWC_ROOT && s.kind != SOMA {
            warnings.push(WarningKind::DisconnectedNeurite, Some(s.line as usize));
        }
        if let Some((_, first)) = repeat.filter(|&(r, _)| r == i) {
            let first_line = samples.get(first).map_or(0, |f| f.line as usize);
            return Err(refuse(
                RefusalKind::RepeatedId {
                    id: s.id,
                    first_line,
                },
                s,
            ));
        }
    }
    if let Some(s) = facts.missing_parent.and_then(|i| samples.get(i)) {
        return Err(refuse(
            RefusalKind::MissingParent {
                id: s.id,
                parent: s.parent,
            },
            s,
        ));
    }
    let mut b = Builder {
        samples,
        parents: links.parents(),
        links,
        warnings,
        // Each sample once, and a fork's point again in each child: rarely more than this.
        tree: Tree {
            points: Vec::with_capacity(samples.len().saturating_add(samples.len() / 8)),
            ..Tree::default()
        },
    };
    b.build_soma()?;
    b.assemble_all()?;
    Ok(b.tree)
}

struct Builder<'a, 'w> {
    samples: &'a [Sample],
    parents: &'a [u32],
    links: &'a dyn Links,
    warnings: &'w mut Warnings,
    tree: Tree,
}

fn tree_point(s: &Sample) -> TreePoint {
    TreePoint {
        xyz: s.point,
        r: s.diameter / 2.0,
        line: s.line,
    }
}

impl Builder<'_, '_> {
    fn sample(&self, i: usize) -> Option<&Sample> {
        self.samples.get(i)
    }

    fn parent_is_soma(&self, i: usize) -> bool {
        let p = self.parents.get(i).copied().unwrap_or(NO_PARENT);
        p == NO_PARENT || self.sample(p as usize).is_some_and(|s| s.kind == SOMA)
    }

    fn build_soma(&mut self) -> Result<(), Refusal> {
        let soma: Vec<usize> = (0..self.samples.len())
            .filter(|&i| self.sample(i).is_some_and(|s| s.kind == SOMA))
            .collect();
        let points: Vec<TreePoint> = soma
            .iter()
            .filter_map(|&i| self.sample(i))
            .map(tree_point)
            .collect();
        match soma.as_slice() {
            [] => {
                self.tree.soma_kind = SomaKind::Undefined;
                self.warnings.push(WarningKind::NoSomaFound, None);
                return Ok(());
            }
            [only] => {
                if !self.parent_is_soma(*only) {
                    if let Some(s) = self.sample(*only) {
                        return Err(refuse(RefusalKind::SomaWithNeuriteParent, s));
                    }
                }
                self.tree.soma_kind = SomaKind::SinglePoint;
                self.tree.soma = points;
                return Ok(());
            }
            [a, b, c] => {
                let s = [self.sample(*a), self.sample(*b), self.sample(*c)];
                if let [Some(a), Some(b), Some(c)] = s {
                    if a.id == 1
                        && a.parent == SWC_ROOT
                        && b.id == 2
                        && b.parent == 1
                        && c.id == 3
                        && c.parent == 1
                    {
                        if !three_point_conforms([a.point, b.point, c.point], a.diameter / 2.0) {
                            self.warnings.push(WarningKind::SomaNonConform, None);
                        }
                        self.tree.soma_kind = SomaKind::ThreePoint;
                        self.tree.soma = points;
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        self.tree.soma_kind = SomaKind::Cylinders;
        let mut roots = 0usize;
        for &i in &soma {
            let Some(s) = self.sample(i) else { continue };
            if s.parent == SWC_ROOT {
                roots += 1;
            } else if !self.parent_is_soma(i) {
                return Err(refuse(RefusalKind::SomaWithNeuriteParent, s));
            }
            let kids = self.links.children(i);
            if kids.len() > 1 && s.parent != SWC_ROOT {
                let forks: Vec<usize> = kids
                    .iter()
                    .filter_map(|&k| self.sample(k as usize))
                    .filter(|k| k.kind == SOMA)
                    .map(|k| k.line as usize)
                    .collect();
                if forks.len() > 1 {
                    return Err(refuse(RefusalKind::SomaBifurcation { children: forks }, s));
                }
            }
        }
        if roots > 1 {
            let lines: Vec<usize> = points.iter().map(|p| p.line as usize).collect();
            if let Some(first) = soma.first().and_then(|&i| self.sample(i)) {
                return Err(refuse(RefusalKind::MultipleSomata { lines }, first));
            }
        }
        self.tree.soma = points;
        Ok(())
    }

    /// The root loop of `buildSWC`: neurites from each soma point, and each neurite root.
    fn assemble_all(&mut self) -> Result<(), Refusal> {
        for r in 0..self.samples.len() {
            let Some(root) = self.sample(r).copied() else {
                continue;
            };
            if root.parent != SWC_ROOT && root.kind != SOMA {
                continue;
            }
            let kids = self.links.children(r);
            if kids.is_empty() {
                continue;
            }
            if self.tree.soma_kind == SomaKind::ThreePoint && root.kind == SOMA && root.id != 1 {
                self.warnings
                    .push(WarningKind::WrongRootPoint, Some(root.line as usize));
            }
            for &k in kids {
                let Some(child) = self.sample(k as usize) else {
                    continue;
                };
                if child.kind == SOMA {
                    continue;
                }
                if root.kind == SOMA {
                    self.assemble(k as usize)?;
                } else {
                    self.assemble(r)?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// `assembleSections` from a root sample, depth first: sections are made in MorphIO's
    /// order, which is also the order of their ids.
    fn assemble(&mut self, first: usize) -> Result<(), Refusal> {
        // (sample, parent section, the point it starts from)
        let mut stack: Vec<(usize, u32, Option<TreePoint>)> = vec![(first, NO_PARENT, None)];
        while let Some((start, parent_section, from)) = stack.pop() {
            let section_start = self.tree.points.len() as u32;
            let Some(s) = self.sample(start) else {
                continue;
            };
            if let Some(from) = from {
                // MorphIO repeats the fork's point unless the child is already there.
                if s.point != from.xyz {
                    self.tree.points.push(from);
                }
            }
            let mut at = start;
            loop {
                let kids = self.links.children(at);
                let [only] = kids else { break };
                let (Some(here), Some(next)) = (self.sample(at), self.sample(*only as usize))
                else {
                    break;
                };
                if here.kind != next.kind {
                    return Err(refuse(RefusalKind::TypeChange, here));
                }
                self.tree.points.push(tree_point(here));
                at = *only as usize;
            }
            let Some(last) = self.sample(at).copied() else {
                continue;
            };
            let end_point = tree_point(&last);
            self.tree.points.push(end_point);
            let mut kind = last.kind;
            if parent_section != NO_PARENT && kind == 0 {
                // `mut::Section::appendSection` gives an undefined child its parent's type.
                kind = self
                    .tree
                    .sections
                    .get(parent_section as usize)
                    .map_or(0, |p| p.kind);
            }
            if parent_section != NO_PARENT && kind == SOMA {
                return Err(refuse(RefusalKind::SomaSection, &last));
            }
            let id = self.tree.sections.len() as u32;
            self.tree.sections.push(TreeSection {
                kind,
                parent: parent_section,
                start: section_start,
                end: self.tree.points.len() as u32,
            });
            let kids = self.links.children(at);
            if kids.len() > 1 {
                for &k in kids.iter().rev() {
                    stack.push((k as usize, id, Some(end_point)));
                }
            }
        }
        Ok(())
    }
}

/// `details::checkNeuroMorphoSoma`: whether a 3-point soma is NeuroMorpho's cylinder (two
/// coordinates shared, the third offset by plus and minus the radius), in 32-bit floats.
fn three_point_conforms(p: [[f32; 3]; 3], radius: f32) -> bool {
    let close = |a: f32, b: f32| {
        let diff = (a - b).abs();
        diff < EPSILON || diff <= a.abs().max(b.abs()) * f32::EPSILON
    };
    let [first, second, third] = p;
    let columns = first.iter().zip(second).zip(third);
    let same: Vec<bool> = columns
        .clone()
        .map(|((&a, b), c)| close(a, b) && close(a, c))
        .collect();
    if same.iter().filter(|&&s| s).count() != 2 {
        return false;
    }
    // The one column that differs.
    columns
        .zip(&same)
        .filter(|(_, &s)| !s)
        .all(|(((&a, b), c), _)| {
            (close(a, b - radius) && close(a, c + radius))
                || (close(a, b + radius) && close(a, c - radius))
        })
}
