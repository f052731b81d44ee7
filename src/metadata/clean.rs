//! Cell values: neuromorphopy 0.3.3's cleaning of `metadata.csv`, and the raw form.

use serde_json::Value;

/// A value as the server sent it: strings as they are, lists joined with `|`, null empty.
pub fn raw_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(raw_value).collect::<Vec<_>>().join("|"),
        other => other.to_string(),
    }
}

/// Clean a value the way neuromorphopy 0.3.3 cleans its `metadata.csv` columns.
///
/// A null is empty. Anything else is written as Python's `str()` would (a list as
/// `['a', 'b']`), then `[`/`]` are stripped from both ends, every `'` is removed, every
/// lower-case `layer ` is removed, every `,` or space standing between two word characters
/// becomes `_`, and the result is lower-cased.
///
/// ```
/// use neuromorpho::clean_value;
/// use serde_json::json;
/// assert_eq!(clean_value(&json!(["neocortex", "prefrontal", "layer 3"])), "neocortex, prefrontal, 3");
/// assert_eq!(clean_value(&json!("Dendrites, Soma, No Axon")), "dendrites, soma, no_axon");
/// assert_eq!(clean_value(&json!(null)), "");
/// ```
pub fn clean_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => clean_text(s),
        other => clean_text(&python_repr(other)),
    }
}

/// The text steps of [`clean_value`], in one pass after the two removals.
fn clean_text(s: &str) -> String {
    let s = s.trim_matches(|c| c == '[' || c == ']');
    let s: std::borrow::Cow<str> = if s.contains('\'') {
        s.replace('\'', "").into()
    } else {
        s.into()
    };
    let s: std::borrow::Cow<str> = if s.contains("layer ") {
        s.replace("layer ", "").into()
    } else {
        s
    };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // Neighbours are judged on the text before replacement, as a regex substitution does.
        let between_words = (c == ',' || c == ' ')
            && prev.is_some_and(word)
            && chars.peek().is_some_and(|&n| word(n));
        if between_words {
            out.push('_');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    out
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => python_str_repr(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `repr()` of a string: single quotes unless it holds a `'` and no `"`.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleaning_matches_neuromorphopy() {
        let cases = [
            (
                json!(["neocortex", "prefrontal", "layer 3"]),
                "neocortex, prefrontal, 3",
            ),
            (
                json!(["Local projecting", "pyramidal", "principal cell"]),
                "local_projecting, pyramidal, principal_cell",
            ),
            (json!(["Layer 3", "a b"]), "layer_3, a_b"),
            (
                json!("Dendrites, Soma, No Axon"),
                "dendrites, soma, no_axon",
            ),
            (
                json!("green fluorescent protein (GFP)"),
                "green_fluorescent_protein (gfp)",
            ),
            (json!(null), ""),
            (json!(1), "1"),
            (json!(["O'Brien"]), "\"obrien\""),
            (json!(["12204204", "12902394"]), "12204204, 12902394"),
            (json!("Male/Female"), "male/female"),
            (json!("a b c,d"), "a_b_c_d"),
            (json!("Ångström Cell"), "ångström_cell"),
            (json!([1, null, 2.0]), "1, none, 2.0"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_value(&input), want, "input {input}");
        }
    }

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(python_str_repr("a'b"), "\"a'b\"");
        assert_eq!(python_str_repr("a'b\""), "'a\\'b\"'");
        assert_eq!(python_str_repr("x\ny"), "'x\\ny'");
    }

    #[test]
    fn raw_values_join_lists() {
        assert_eq!(raw_value(&json!(["a, b", "c"])), "a, b|c");
        assert_eq!(raw_value(&json!(null)), "");
        assert_eq!(raw_value(&json!(7)), "7");
    }
}
