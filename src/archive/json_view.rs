//! A borrowed view of JSON: strings and keys borrowed from the text (owned only where the
//! text escapes them), so that reading a record costs a few allocations instead of one per
//! key and value. It behaves as `serde_json::Value` does: same numbers, same key order,
//! same serialization.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// One JSON value, borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Str(Cow<'a, str>),
    Arr(Vec<Val<'a>>),
    Obj(Vec<(Cow<'a, str>, Val<'a>)>),
}

impl<'a> Val<'a> {
    /// A view of a `serde_json::Value` (borrowing its strings).
    pub(crate) fn of(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.clone()),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(a) => Val::Arr(a.iter().map(Val::of).collect()),
            Value::Object(m) => Val::Obj(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::of(v)))
                    .collect(),
            ),
        }
    }
}

/// The entries of an object, in their order.
pub(crate) type Entries<'a> = Vec<(Cow<'a, str>, Val<'a>)>;

/// The entries of a JSON object's text; `None` if the text is not one object. The values
/// of keys `keep` refuses are skipped unread (and left out).
pub(crate) fn entries_of_text<'a>(
    text: &'a str,
    keep: &dyn Fn(&str) -> bool,
) -> Option<Entries<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let item = ItemSeed(keep).deserialize(&mut de).ok()?;
    de.end().ok()?;
    match item {
        Item::Object(entries) => Some(entries),
        Item::Other(_) => None,
    }
}

/// A value read with an object's entries apart (a record), or any other value.
pub(crate) enum Item<'a> {
    /// An object: its entries (those kept).
    Object(Entries<'a>),
    /// Anything else.
    Other(Val<'a>),
}

/// Reads an [`Item`]: an object's values under the keys the function refuses are skipped
/// unread. Room for a record's 45 keys is made at once (growing from a few costs four
/// copies).
pub(crate) struct ItemSeed<'k>(pub(crate) &'k dyn Fn(&str) -> bool);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item<'de>, A::Error> {
        let mut v: Entries<'de> = Vec::with_capacity(64);
        while let Some(Text(k)) = map.next_key()? {
            if (self.0)(&k) {
                v.push((k, map.next_value()?));
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(Item::Object(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item<'de>, A::Error> {
        ValVisitor.visit_seq(seq).map(Item::Other)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Item<'de>, E> {
        ValVisitor.visit_bool(b).map(Item::Other)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Item<'de>, E> {
        ValVisitor.visit_i64(n).map(Item::Other)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Item<'de>, E> {
        ValVisitor.visit_u64(n).map(Item::Other)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Item<'de>, E> {
        ValVisitor.visit_f64(n).map(Item::Other)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Item<'de>, E> {
        ValVisitor.visit_borrowed_str(s).map(Item::Other)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Item<'de>, E> {
        ValVisitor.visit_str(s).map(Item::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Item<'de>, E> {
        ValVisitor.visit_unit().map(Item::Other)
    }
}

/// A key or a string, borrowed when the text has no escape in it (serde's own `Cow<str>`
/// always copies).
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

/// Reads a [`Val`].
struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Val<'de>, E> {
        Ok(Val::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Val<'de>, E> {
        Ok(Val::Num(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Val<'de>, E> {
        Ok(Val::Num(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Val<'de>, E> {
        // As serde_json's Value: a number that is not finite is null.
        Ok(Number::from_f64(n).map_or(Val::Null, Val::Num))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val<'de>, D::Error> {
        Val::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Val::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        let mut v: Vec<(Cow<'de, str>, Val<'de>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        // A key given twice is kept twice (serde_json's map keeps the last value):
        // looking for duplicates would cost more than all the rest, and the server
        // never sends them.
        while let Some(Text(k)) = map.next_key()? {
            v.push((k, map.next_value()?));
        }
        Ok(Val::Obj(v))
    }
}

impl Serialize for Val<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Null => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Num(n) => n.serialize(s),
            Val::Str(t) => s.serialize_str(t),
            Val::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Val::Obj(entries) => serialize_entries(entries, s),
        }
    }
}

/// A map's entries in their order.
pub(crate) fn serialize_entries<S: Serializer>(
    entries: &[(Cow<'_, str>, Val<'_>)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        m.serialize_entry(k.as_ref(), v)?;
    }
    m.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_value_does() {
        let text = r#"{"a":1,"b":[true,null,2.5,-3,1e21,18446744073709551615],"c":"x\"y\u00e9\/","d":{"e":{}}}"#;
        let view: Val = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
        assert_eq!(Val::of(&value), view);
        // Keys without escapes are borrowed.
        let Val::Obj(entries) = &view else { panic!() };
        assert!(matches!(entries[0].0, Cow::Borrowed("a")));
        assert!(matches!(&entries[2].1, Val::Str(Cow::Owned(s)) if s == "x\"yé/"));
    }
}
