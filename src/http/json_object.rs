//! A JSON object read from a client, refused when a key appears twice: two
//! parsers of the same body must never see two different requests.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The members of a JSON object, each key present once.
#[derive(Debug)]
pub(super) struct JsonObject(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<JsonObject, A::Error> {
        let mut members = Map::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if members.contains_key(&key) {
                return Err(A::Error::custom(format_args!(
                    "the field {key:?} appears twice"
                )));
            }
            members.insert(key, value);
        }
        Ok(JsonObject(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JsonObject, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn an_object_with_distinct_keys_is_read_whole() {
        let object = parse(r#"{"a":1,"b":{"a":2}}"#).unwrap();
        assert_eq!(object.0.len(), 2);
        assert_eq!(object.0["b"]["a"], 2);
    }

    #[test]
    fn a_repeated_key_is_refused_naming_it() {
        let error = parse(r#"{"size":1,"size":2}"#).unwrap_err();
        assert!(
            error.to_string().contains("\"size\" appears twice"),
            "{error}"
        );
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        for text in ["[1]", "1", "\"x\"", "null", "true"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
