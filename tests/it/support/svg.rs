//! Reading the SVG the renderer writes, without an XML crate: a strict well-formedness check
//! that builds the element tree, and the points of path data (absolute, relative, H, V).

use std::collections::BTreeMap;

/// An element: its name, attributes and children, and its text (character data, unescaped).
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The attribute, or "" when absent.
    pub fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    /// Whether `class` lists `c`.
    pub fn has_class(&self, c: &str) -> bool {
        self.attr("class").split_whitespace().any(|x| x == c)
    }

    /// This element and every descendant, depth first, with the translation of each
    /// (the sum of the `transform="translate(a b)"` of it and its ancestors).
    pub fn walk(&self) -> Vec<(&Element, (f64, f64))> {
        let mut out = Vec::new();
        let mut stack = vec![(self, (0.0, 0.0))];
        while let Some((e, (dx, dy))) = stack.pop() {
            let (tx, ty) = translate(e.attr("transform"));
            let here = (dx + tx, dy + ty);
            out.push((e, here));
            for c in e.children.iter().rev() {
                stack.push((c, here));
            }
        }
        out
    }

    /// All text inside, concatenated.
    pub fn all_text(&self) -> String {
        let mut s = self.text.clone();
        for c in &self.children {
            s.push_str(&c.all_text());
        }
        s
    }
}

/// `translate(a b)` or `translate(a,b)`; (0, 0) for anything else.
pub fn translate(t: &str) -> (f64, f64) {
    let Some(inner) = t
        .trim()
        .strip_prefix("translate(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = inner
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (v[0], v.get(1).copied().unwrap_or(0.0))
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic()
        || c == '_'
        || c == ':'
        || (!first && (c.is_ascii_digit() || c == '-' || c == '.'))
}

/// Unescape character data or an attribute value; errors on a bare `&` or `<` and on an
/// unknown entity.
fn unescape(s: &str, at: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with('<') {
            return Err(format!("a bare '<' near byte {at}"));
        }
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| format!("a bare '&' near byte {at}"))?;
        let entity = &rest[i + 1..i + end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{e}; near byte {at}"))?,
            e if e.starts_with('#') => e[1..]
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{e}; near byte {at}"))?,
            e => return Err(format!("unknown entity &{e}; near byte {at}")),
        };
        out.push(c);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parse a whole XML document strictly: one root element, balanced tags, quoted and unique
/// attributes, known entities only, no control characters XML 1.0 refuses.
pub fn parse_xml(doc: &str) -> Result<Element, String> {
    if let Some(c) = doc.chars().find(|&c| {
        (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        return Err(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ));
    }
    let b = doc.as_bytes();
    let mut i = 0;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    while i < b.len() {
        if b[i] != b'<' {
            let end = doc[i..].find('<').map_or(doc.len(), |e| i + e);
            let text = unescape(&doc[i..end], i)?;
            match stack.last_mut() {
                Some(top) => top.text.push_str(&text),
                None if text.trim().is_empty() => {}
                None => return Err(format!("text outside the root element at byte {i}")),
            }
            i = end;
            continue;
        }
        let rest = &doc[i..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("an unclosed comment")?;
            i += end + 3;
            continue;
        }
        if rest.starts_with("<?") {
            let end = rest
                .find("?>")
                .ok_or("an unclosed processing instruction")?;
            i += end + 2;
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").ok_or("an unclosed CDATA section")?;
            stack
                .last_mut()
                .ok_or("CDATA outside the root")?
                .text
                .push_str(&rest[9..end]);
            i += end + 3;
            continue;
        }
        if rest.starts_with("<!") {
            return Err(format!("a declaration at byte {i} (none is expected)"));
        }
        if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or("an unclosed end tag")?;
            let name = close[..end].trim_end();
            let open = stack
                .pop()
                .ok_or_else(|| format!("</{name}> without a start tag"))?;
            if open.name != name {
                return Err(format!("</{name}> closes <{}>", open.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(open),
                None if root.is_none() => root = Some(open),
                None => return Err("a second root element".into()),
            }
            i += 2 + end + 1;
            continue;
        }
        // A start tag.
        let mut j = i + 1;
        let name_start = j;
        while j < b.len() && is_name_char(b[j] as char, j == name_start) {
            j += 1;
        }
        if j == name_start {
            return Err(format!("a bad tag name at byte {i}"));
        }
        let mut e = Element {
            name: doc[name_start..j].to_string(),
            ..Element::default()
        };
        let self_closing;
        loop {
            let ws = j;
            while j < b.len() && (b[j] as char).is_ascii_whitespace() {
                j += 1;
            }
            match b.get(j) {
                Some(b'>') => {
                    self_closing = false;
                    j += 1;
                    break;
                }
                Some(b'/') if b.get(j + 1) == Some(&b'>') => {
                    self_closing = true;
                    j += 2;
                    break;
                }
                None => return Err("an unclosed start tag".into()),
                _ => {}
            }
            if ws == j {
                return Err(format!("no space before an attribute at byte {j}"));
            }
            let a = j;
            while j < b.len() && is_name_char(b[j] as char, j == a) {
                j += 1;
            }
            if a == j || b.get(j) != Some(&b'=') {
                return Err(format!("a bad attribute at byte {a}"));
            }
            let q = *b.get(j + 1).ok_or("an unclosed attribute")?;
            if q != b'"' && q != b'\'' {
                return Err(format!("an unquoted attribute value at byte {j}"));
            }
            let v0 = j + 2;
            let v1 = doc[v0..]
                .find(q as char)
                .map(|e| v0 + e)
                .ok_or("an unclosed attribute value")?;
            let value = unescape(&doc[v0..v1], v0)?;
            if e.attrs.insert(doc[a..j].to_string(), value).is_some() {
                return Err(format!("attribute {} repeated", &doc[a..j]));
            }
            j = v1 + 1;
        }
        i = j;
        if self_closing {
            match stack.last_mut() {
                Some(parent) => parent.children.push(e),
                None if root.is_none() => root = Some(e),
                None => return Err("a second root element".into()),
            }
        } else {
            stack.push(e);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".into())
}

/// The numbers of path data, with their command letters.
fn tokens(d: &str) -> Vec<Result<char, f64>> {
    let mut out = Vec::new();
    let b = d.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_alphabetic() && c != 'e' && c != 'E' {
            out.push(Ok(c));
            i += 1;
        } else if c == ' ' || c == ',' {
            i += 1;
        } else {
            let start = i;
            i += 1;
            let mut seen_dot = c == '.';
            while i < b.len() {
                let d = b[i] as char;
                if d.is_ascii_digit() || (d == '.' && !seen_dot) {
                    seen_dot |= d == '.';
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Err(d[start..i].parse::<f64>().unwrap_or_else(|e| {
                panic!("bad number {:?} in path data: {e}", &d[start..i])
            })));
        }
    }
    out
}

/// The sub-paths of path data as absolute points (M, L, H, V, Z and their relative forms;
/// a command's letter may be left out for repeats).
pub fn path_points(d: &str) -> Vec<Vec<(f64, f64)>> {
    let mut subpaths: Vec<Vec<(f64, f64)>> = Vec::new();
    let (mut x, mut y) = (0.0, 0.0);
    let mut start = (0.0, 0.0);
    let mut cmd = ' ';
    let toks = tokens(d);
    let mut k = 0;
    let num = |k: &mut usize| -> f64 {
        match toks.get(*k) {
            Some(Err(v)) => {
                *k += 1;
                *v
            }
            other => panic!("a number expected in {d:?}, found {other:?}"),
        }
    };
    while k < toks.len() {
        if let Ok(c) = toks[k] {
            cmd = c;
            k += 1;
            if c == 'Z' || c == 'z' {
                (x, y) = start;
                if let Some(last) = subpaths.last_mut() {
                    last.push(start);
                }
                continue;
            }
        }
        match cmd {
            'M' | 'm' => {
                let (a, b) = (num(&mut k), num(&mut k));
                (x, y) = if cmd == 'M' { (a, b) } else { (x + a, y + b) };
                start = (x, y);
                subpaths.push(vec![(x, y)]);
                // Pairs after a move are lines.
                cmd = if cmd == 'M' { 'L' } else { 'l' };
            }
            'L' | 'l' => {
                let (a, b) = (num(&mut k), num(&mut k));
                (x, y) = if cmd == 'L' { (a, b) } else { (x + a, y + b) };
                subpaths
                    .last_mut()
                    .expect("a line before any move")
                    .push((x, y));
            }
            'H' | 'h' => {
                let a = num(&mut k);
                x = if cmd == 'H' { a } else { x + a };
                subpaths
                    .last_mut()
                    .expect("a line before any move")
                    .push((x, y));
            }
            'V' | 'v' => {
                let a = num(&mut k);
                y = if cmd == 'V' { a } else { y + a };
                subpaths
                    .last_mut()
                    .expect("a line before any move")
                    .push((x, y));
            }
            other => panic!("path command {other:?} not understood in {d:?}"),
        }
    }
    subpaths
}
