//! The select query language (Solr-like `q`/`fq` clauses, POST bodies) and sort keys.

use serde_json::Value;
use std::cmp::Ordering as CmpOrdering;

use super::catalog::{Catalog, FieldRef};

// Query language: `field:v1,v2 field2:v3`, values exact, "quoted", prefix*, glob ?/*,
// [a TO b] ranges.

#[derive(Debug)]
pub(super) enum Pat {
    Exact(String),
    Prefix(String),
    Glob(Vec<char>),
    Range(Option<String>, Option<String>),
}

impl Pat {
    pub(super) fn parse(v: &str) -> Pat {
        if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
            return Pat::Exact(v[1..v.len() - 1].to_string());
        }
        if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            if let Some((lo, hi)) = inner.split_once(" TO ") {
                let bound = |b: &str| Some(b.trim().to_string()).filter(|b| b != "*");
                return Pat::Range(bound(lo), bound(hi));
            }
        }
        match v.strip_suffix('*') {
            Some(prefix) if !prefix.contains(['*', '?']) => Pat::Prefix(prefix.to_string()),
            _ if v.contains(['*', '?']) => Pat::Glob(v.chars().collect()),
            _ => Pat::Exact(v.to_string()),
        }
    }

    pub(super) fn matches(&self, v: &str) -> bool {
        match self {
            Pat::Exact(s) => v == s,
            Pat::Prefix(p) => v.starts_with(p.as_str()),
            Pat::Glob(p) => glob_match(p, v),
            Pat::Range(lo, hi) => {
                lo.as_deref()
                    .is_none_or(|l| compare_values(v, l) != CmpOrdering::Less)
                    && hi
                        .as_deref()
                        .is_none_or(|h| compare_values(v, h) != CmpOrdering::Greater)
            }
        }
    }
}

/// Numbers compare as numbers, anything else as strings.
pub(super) fn compare_values(a: &str, b: &str) -> CmpOrdering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(CmpOrdering::Equal),
        _ => a.cmp(b),
    }
}

pub(super) fn glob_match(pattern: &[char], text: &str) -> bool {
    let s: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < s.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == s[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[derive(Debug)]
pub(super) struct Clause {
    pub(super) field: FieldRef,
    pub(super) pats: Vec<Pat>,
}

impl Clause {
    pub(super) fn matches(&self, catalog: &Catalog, i: usize) -> bool {
        let mut hit = false;
        catalog.visit(i, &self.field.key, self.field.elem, &mut |v| {
            hit = hit || self.pats.iter().any(|p| p.matches(v));
        });
        hit
    }

    /// The ids of a plain `neuron_id:1,2,3` clause.
    pub(super) fn exact_ids(&self) -> Option<Vec<u64>> {
        if self.field.key != "neuron_id" || self.field.elem.is_some() {
            return None;
        }
        self.pats
            .iter()
            .map(|p| match p {
                Pat::Exact(s) => s.parse::<u64>().ok(),
                _ => None,
            })
            .collect()
    }
}

/// Splits `species:mouse brain_region:neocortex` at spaces that start a new `field:`, so
/// that values may contain spaces (`archive:Allen Cell Types`).
pub(super) fn split_clauses(q: &str) -> Vec<&str> {
    let starts_clause = |rest: &str| match rest.find(':') {
        Some(c) => {
            c > 0
                && rest[..c]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    };
    let mut out = Vec::new();
    let (mut start, mut quoted, mut range) = (0, false, false);
    for (p, c) in q.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => range = true,
            ']' if !quoted => range = false,
            ' ' if !quoted && !range && starts_clause(&q[p + 1..]) => {
                out.push(&q[start..p]);
                start = p + 1;
            }
            _ => {}
        }
    }
    out.push(&q[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn split_values(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (p, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..p]);
                start = p + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

pub(super) fn parse_clause(
    text: &str,
    resolve: &dyn Fn(&str) -> Option<FieldRef>,
) -> Result<Clause, String> {
    let Some((name, values)) = text.split_once(':') else {
        return Err(format!("Malformed query '{text}': expected field:value"));
    };
    let name = name.trim();
    let field = resolve(name).ok_or_else(|| format!("Unknown field '{name}'"))?;
    let pats: Vec<Pat> = split_values(values)
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Pat::parse)
        .collect();
    if pats.is_empty() {
        return Err(format!("No value given for field '{name}'"));
    }
    Ok(Clause { field, pats })
}

/// `POST /api/neuron/select` body: `{"field": ["v1", "v2"], ...}` (OR in a list, AND across).
pub(super) fn parse_post_body(
    body: &[u8],
    resolve: &dyn Fn(&str) -> Option<FieldRef>,
) -> Result<Vec<Clause>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Malformed JSON body: {e}"))?;
    let object = value.as_object().ok_or("The body must be a JSON object")?;
    let mut clauses = Vec::new();
    for (name, values) in object {
        let field = resolve(name).ok_or_else(|| format!("Unknown field '{name}'"))?;
        let list: Vec<&Value> = match values {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let pats: Vec<Pat> = list
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(Pat::parse(s)),
                Value::Number(n) => Some(Pat::Exact(n.to_string())),
                _ => None,
            })
            .collect();
        if pats.is_empty() {
            return Err(format!("No value given for field '{name}'"));
        }
        clauses.push(Clause { field, pats });
    }
    if clauses.is_empty() {
        return Err("Empty query".to_string());
    }
    Ok(clauses)
}

pub(super) struct SortSpec {
    pub(super) props: Vec<FieldRef>,
    pub(super) desc: bool,
    pub(super) text: String,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SortKey {
    Num(Option<u64>),
    Text(Vec<String>),
}
