//! Queries: filters (`field -> [values]`) and an optional sort, built in code or read from a
//! neuromorphopy query file (JSON, or YAML with the `yaml` feature), and their request
//! parameters.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Sort order of the results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// The field to sort by, e.g. `neuron_id`.
    pub field: String,
    /// Ascending (the server's default) or descending.
    pub ascending: bool,
}

/// A search: filters (OR within a field, AND across fields) and an optional sort.
///
/// ```
/// use neuromorpho::Query;
/// let q = Query::new()
///     .filter("species", ["mouse", "rat"])
///     .filter("brain_region", ["neocortex"])
///     .sort_by("neuron_id", false);
/// assert_eq!(q.filters().len(), 2);
/// assert!(!q.is_all());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    filters: Vec<(String, Vec<String>)>,
    sort: Option<Sort>,
}

impl Query {
    /// An empty query: the whole catalog.
    pub fn new() -> Query {
        Query::default()
    }

    /// The whole catalog, explicitly.
    pub fn all() -> Query {
        Query::default()
    }

    /// Add values for a field (values for the same field are merged, duplicates dropped).
    pub fn filter<I, S>(mut self, field: impl Into<String>, values: I) -> Query
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.add_filter(field.into(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Sort the results by `field`.
    pub fn sort_by(mut self, field: impl Into<String>, ascending: bool) -> Query {
        self.sort = Some(Sort {
            field: field.into(),
            ascending,
        });
        self
    }

    /// The filters, in the order they were given.
    pub fn filters(&self) -> &[(String, Vec<String>)] {
        &self.filters
    }

    /// The sort, if any.
    pub fn sort(&self) -> Option<&Sort> {
        self.sort.as_ref()
    }

    /// True when the query has no filter (the whole catalog).
    pub fn is_all(&self) -> bool {
        self.filters.is_empty()
    }

    /// Merge another query's filters into this one (the other's sort wins if it has one).
    pub fn merge(mut self, other: Query) -> Query {
        for (f, v) in other.filters {
            self.add_filter(f, v);
        }
        if other.sort.is_some() {
            self.sort = other.sort;
        }
        self
    }

    fn add_filter(&mut self, field: String, values: Vec<String>) {
        let slot = match self.filters.iter_mut().position(|(f, _)| *f == field) {
            Some(i) => &mut self.filters[i].1,
            None => {
                self.filters.push((field, Vec::new()));
                let last = self.filters.len() - 1;
                &mut self.filters[last].1
            }
        };
        for v in values {
            if !slot.contains(&v) {
                slot.push(v);
            }
        }
    }

    /// Read a query file: `.json`, `.yaml`/`.yml` (feature `yaml`), or sniffed from its content.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Query> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        // Editors on Windows may start a file with a byte-order mark; parsers reject it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let name = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("json") => Query::from_json_str(text, &name),
            Some("yaml") | Some("yml") => Query::from_yaml_str(text, &name),
            _ if text.trim_start().starts_with('{') => Query::from_json_str(text, &name),
            _ => Query::from_yaml_str(text, &name),
        }
    }

    /// Parse a JSON query (`source` names it in errors).
    pub fn from_json_str(text: &str, source: &str) -> Result<Query> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::input(
                source,
                format!(
                    "invalid JSON at {}: {}",
                    crate::util::text::line_column(e.line(), e.column()),
                    strip_position(&e.to_string())
                ),
            )
        })?;
        Query::from_value(&value, source)
    }

    /// Parse a YAML query (`source` names it in errors).
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Query> {
        let value: Value = serde_norway::from_str(text).map_err(|e| {
            let msg = match e.location() {
                Some(l) => format!(
                    "invalid YAML at {}: {}",
                    crate::util::text::line_column(l.line(), l.column()),
                    strip_position(&e.to_string())
                ),
                None => format!("invalid YAML: {e}"),
            };
            Error::input(source, msg)
        })?;
        Query::from_value(&value, source)
    }

    /// Without the `yaml` feature, YAML is refused with a clear message.
    #[cfg(not(feature = "yaml"))]
    pub fn from_yaml_str(_text: &str, source: &str) -> Result<Query> {
        Err(Error::input(
            source,
            "YAML query files need the `yaml` feature (built without it); use JSON",
        ))
    }

    /// Read neuromorphopy's schema from a parsed document:
    /// `{"filters": {"field": ["v", ...]}, "sort": {"field": "f", "ascending": true}}`.
    pub fn from_value(value: &Value, source: &str) -> Result<Query> {
        let top = value.as_object().ok_or_else(|| {
            Error::input(source, "the query must be a mapping with a 'filters' key")
        })?;
        if let Some(key) = top.keys().find(|k| *k != "filters" && *k != "sort") {
            return Err(Error::input(
                source,
                format!("unknown top-level key '{key}' (expected 'filters' and optionally 'sort')"),
            ));
        }
        let filters = top.get("filters").ok_or_else(|| {
            Error::input(
                source,
                "missing key 'filters' (use {\"filters\": {}} for the whole catalog)",
            )
        })?;
        let mut query = Query::new();
        for (field, values) in filter_entries(filters, source)? {
            query.add_filter(field.clone(), filter_values(field, values, source)?);
        }
        if let Some(sort) = top.get("sort") {
            query.sort = Some(parse_sort(sort, source)?);
        }
        Ok(query)
    }

    /// The query in neuromorphopy's schema (what [`Query::from_value`] reads back).
    pub fn to_value(&self) -> Value {
        let mut filters = serde_json::Map::new();
        for (field, values) in &self.filters {
            filters.insert(field.clone(), Value::from(values.clone()));
        }
        let mut top = serde_json::Map::new();
        top.insert("filters".into(), Value::Object(filters));
        if let Some(s) = &self.sort {
            top.insert(
                "sort".into(),
                serde_json::json!({"field": s.field, "ascending": s.ascending}),
            );
        }
        Value::Object(top)
    }

    /// The request parameters for `/api/neuron/select`: `q=` for the first field and one
    /// `fq=` per further field.
    ///
    /// Why not neuromorphopy's single `q=a:x b:y`? `fq` is the filter query the API reference
    /// documents for AND across fields, while the meaning of several space-separated fields
    /// in one `q` is not documented (see the server notes, §3.5).
    pub(crate) fn select_params(&self) -> Vec<(&'static str, String)> {
        self.filters
            .iter()
            .enumerate()
            .map(|(i, (field, values))| {
                let key = if i == 0 { "q" } else { "fq" };
                let joined: Vec<String> = values.iter().map(|v| quote_value(v)).collect();
                (key, format!("{field}:{}", joined.join(",")))
            })
            .collect()
    }

    /// The `sort` parameter. Always sent: parallel pages need one stable order.
    pub(crate) fn sort_param(&self) -> String {
        match &self.sort {
            Some(s) => format!("{},{}", s.field, if s.ascending { "asc" } else { "desc" }),
            None => "neuron_id,asc".to_string(),
        }
    }
}

/// A comma separates values in `q=field:a,b`; a value holding one must be quoted.
fn quote_value(v: &str) -> String {
    if v.contains(',') && !v.starts_with('"') {
        format!("\"{}\"", v.replace('"', ""))
    } else {
        v.to_string()
    }
}

/// The `filters` mapping.
fn filter_entries<'a>(
    filters: &'a Value,
    source: &str,
) -> Result<&'a serde_json::Map<String, Value>> {
    match filters {
        Value::Object(m) => Ok(m),
        Value::Null => Err(Error::input(
            source,
            "'filters' is empty; write 'filters: {}' for the whole catalog",
        )),
        _ => Err(Error::input(
            source,
            "'filters' must be a mapping of field -> list of values",
        )),
    }
}

/// The values of one filter: a non-empty list of non-empty strings.
fn filter_values(field: &str, values: &Value, source: &str) -> Result<Vec<String>> {
    if field.trim().is_empty() {
        return Err(Error::input(source, "filters: a field name is empty"));
    }
    let list = values.as_array().ok_or_else(|| {
        Error::input(
            source,
            format!(
                "filters.{field}: expected a list of strings, e.g. [\"value\"], got {}",
                kind_of(values)
            ),
        )
    })?;
    if list.is_empty() {
        return Err(Error::input(
            source,
            format!("filters.{field}: the list of values is empty"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::String(_) => Err(Error::input(
                source,
                format!("filters.{field}[{i}]: the value is empty"),
            )),
            other => Err(Error::input(
                source,
                format!(
                    "filters.{field}[{i}]: expected a string, got {} (quote it: \"{}\")",
                    kind_of(other),
                    other
                ),
            )),
        })
        .collect()
}

/// `sort: {field: f, ascending: true}`.
fn parse_sort(sort: &Value, source: &str) -> Result<Sort> {
    let m = sort.as_object().ok_or_else(|| {
        Error::input(
            source,
            "'sort' must be a mapping with 'field' and optionally 'ascending'",
        )
    })?;
    if let Some(key) = m.keys().find(|k| *k != "field" && *k != "ascending") {
        return Err(Error::input(
            source,
            format!("sort: unknown key '{key}' (expected 'field' and 'ascending')"),
        ));
    }
    let field = match m.get("field") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            return Err(Error::input(
                source,
                "sort.field must be a non-empty string",
            ))
        }
        None => return Err(Error::input(source, "sort: missing key 'field'")),
    };
    let ascending = match m.get("ascending") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::input(
                source,
                format!(
                    "sort.ascending must be true or false, got {}",
                    kind_of(other)
                ),
            ))
        }
    };
    Ok(Sort { field, ascending })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// serde's messages end with " at line X column Y", which we already print first.
pub(crate) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_params_use_q_then_fq() {
        let q = Query::new()
            .filter("species", ["mouse", "rat"])
            .filter("cell_type", ["pyramidal"])
            .filter("domain", ["Dendrites, Soma, No Axon"]);
        assert_eq!(
            q.select_params(),
            vec![
                ("q", "species:mouse,rat".to_string()),
                ("fq", "cell_type:pyramidal".to_string()),
                ("fq", "domain:\"Dendrites, Soma, No Axon\"".to_string()),
            ]
        );
        assert_eq!(q.sort_param(), "neuron_id,asc");
        assert_eq!(
            q.sort_by("neuron_name", false).sort_param(),
            "neuron_name,desc"
        );
    }

    #[test]
    fn queries_round_trip_through_their_schema() {
        let q = Query::new()
            .filter("species", ["mouse", "rat"])
            .filter("domain", ["Dendrites, Soma, No Axon"])
            .sort_by("neuron_name", false);
        assert_eq!(Query::from_value(&q.to_value(), "saved").unwrap(), q);
        assert_eq!(
            Query::from_value(&Query::all().to_value(), "saved").unwrap(),
            Query::all()
        );
    }

    #[test]
    fn filters_merge_and_dedupe() {
        let q = Query::new()
            .filter("species", ["mouse"])
            .filter("species", ["mouse", "rat"]);
        assert_eq!(
            q.filters(),
            &[(
                "species".to_string(),
                vec!["mouse".to_string(), "rat".to_string()]
            )]
        );
    }
}
