//! [`Required`]: a request field the spec marks required while the handler still sees it
//! missing. A plain `String` field would make poem-openapi refuse the body itself, with a
//! message that names the type but not the field (`Type "string" expects an input value`)
//! and no code of ours; with `Required` the handler refuses it with its own stable code and
//! says which field is missing.

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::error::{AppError, Code};

/// A field listed in the schema's `required`; absent or `null` in a body, it is `None` here.
#[derive(Debug, Clone, Default)]
pub struct Required<T>(pub Option<T>);

impl<T> Deref for Required<T> {
    type Target = Option<T>;

    fn deref(&self) -> &Option<T> {
        &self.0
    }
}

impl<T: Type> Type for Required<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(v) => v.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Required<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Null => Ok(Self(None)),
            v => Ok(Self(Some(T::parse_from_json(Some(v)).map_err(ParseError::propagate)?))),
        }
    }
}

impl<T: ToJSON> ToJSON for Required<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().and_then(ToJSON::to_json)
    }
}

/// `400 fields_missing` naming every field in `missing`: "`username` is required",
/// "`username` and `password` are required".
pub fn fields_missing(missing: &[&str]) -> AppError {
    let quoted: Vec<String> = missing.iter().map(|f| format!("`{f}`")).collect();
    let message = match quoted.as_slice() {
        [] => "A required field is missing".to_string(),
        [one] => format!("{one} is required"),
        [rest @ .., last] => format!("{} and {last} are required", rest.join(", ")),
    };
    AppError::new(Code::FieldsMissing, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_null_required_field_parses_as_none() {
        assert!(Required::<String>::parse_from_json(None).expect("absent").0.is_none());
        assert!(Required::<String>::parse_from_json(Some(Value::Null)).expect("null").0.is_none());
        let v = Required::<String>::parse_from_json(Some(Value::String("x".into()))).expect("x");
        assert_eq!(v.0.as_deref(), Some("x"));
        assert!(Required::<String>::parse_from_json(Some(serde_json::json!([1]))).is_err());
    }

    #[test]
    fn the_message_names_each_missing_field() {
        let text = |m: &[&str]| match fields_missing(m) {
            e if e.status() == 400 => format!("{}: {}", e.code(), e.message()),
            other => format!("{other:?}"),
        };
        assert_eq!(text(&["username"]), "fields_missing: `username` is required");
        assert_eq!(text(&["username", "password"]), "fields_missing: `username` and `password` are required");
        assert_eq!(text(&["a", "b", "c"]), "fields_missing: `a`, `b` and `c` are required");
    }
}
