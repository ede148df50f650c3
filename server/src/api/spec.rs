//! The spec as served, committed and given to the web client: poem-openapi's document plus
//! what poem-openapi cannot see, because it happens around the operations. The gate (and
//! poem's own extractors) answer 400 for a body or parameter that does not parse, 401/403
//! for gated operations, 413/415 for JSON bodies and 429 for rate-limited ones; each operation
//! documents the ones it can get, so clients (and schemathesis) meet no undocumented status.
//! Server-sent events are described per event (`data` holding the JSON), as clients read them.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::{RATE_LIMITED, service};

/// The finished spec, built once.
static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let mut spec: Value = serde_json::from_str(&service().spec()).unwrap_or_default();
    document_the_gate(&mut spec);
    describe_event_streams(&mut spec);
    integer_bounds(&mut spec);
    list_the_codes(&mut spec);
    spec
});

/// `Allow` header value per path template (`/api/v1/user/{userID}` -> `DELETE, GET, HEAD, PUT`).
static ALLOW: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut out = HashMap::new();
    for (path, ops) in SPEC["paths"].as_object().into_iter().flatten() {
        let mut methods: Vec<String> = ops.as_object().into_iter().flatten().map(|(m, _)| m.to_uppercase()).collect();
        // poem answers `HEAD` wherever it answers `GET`.
        if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
            methods.push("HEAD".into());
        }
        methods.sort();
        out.insert(path.clone(), methods.join(", "));
    }
    out
});

/// The spec as JSON.
pub fn spec() -> &'static Value {
    &SPEC
}

/// The methods a path template answers, for the `Allow` header of a 405.
pub fn allowed_methods(template: &str) -> Option<&'static str> {
    ALLOW.get(template).map(String::as_str)
}

/// The schema of query parameter `name` of `method template`, to explain a value it refused.
pub fn param_schema(template: &str, method: &str, name: &str) -> Option<&'static Value> {
    let params = SPEC["paths"].get(template)?.get(method.to_lowercase())?.get("parameters")?.as_array()?;
    let schema = &params.iter().find(|p| p["name"] == name)?["schema"];
    match schema["$ref"].as_str() {
        Some(r) => SPEC["components"]["schemas"].get(r.trim_start_matches("#/components/schemas/")),
        None => Some(schema),
    }
}

/// `ErrorBody.code` lists every code Nook answers with: each [`Code`](crate::error::Code), and
/// the `<parameter>_invalid` code of each parameter (see [`param_code`]).
fn list_the_codes(spec: &mut Value) {
    let mut codes: Vec<String> = crate::error::Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
    for ops in spec["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
            for param in op["parameters"].as_array().into_iter().flatten() {
                if let Some(name) = param["name"].as_str() {
                    codes.push(param_code(name));
                }
            }
        }
    }
    codes.sort();
    codes.dedup();
    let code = &mut spec["components"]["schemas"]["ErrorBody"]["properties"]["code"];
    if code.is_object() {
        code["enum"] = json!(codes);
    }
}

/// The code of a parameter that does not parse: `limit` -> `limit_invalid`,
/// `Upload-Length` -> `upload_length_invalid`, `userID` -> `user_id_invalid`.
pub fn param_code(name: &str) -> String {
    let mut code = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '-' || c == ' ' {
            code.push('_');
        } else {
            if c.is_ascii_uppercase() && prev_lower {
                code.push('_');
            }
            code.push(c.to_ascii_lowercase());
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    code.push_str("_invalid");
    code
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    })
}

fn add(responses: &mut Map<String, Value>, status: &str, response: Value) {
    responses.entry(status.to_string()).or_insert(response);
}

fn document_the_gate(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, ops) in paths.iter_mut() {
        for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|k| k.starts_with("application/json")));
            let gated = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            if json_body || has_params {
                add(
                    responses,
                    "400",
                    error_response(
                        "The request is malformed: a body that is not valid JSON for this operation, or a \
                         parameter that does not parse or is out of range (`code` `<parameter>_invalid`).",
                    ),
                );
            }
            if gated {
                add(responses, "401", error_response("Missing, invalid, expired or revoked credentials."));
                add(responses, "403", error_response("The caller's role may not call this endpoint."));
            }
            if json_body {
                add(responses, "413", error_response("The body is larger than `http.json_body_limit`."));
                add(
                    responses,
                    "415",
                    error_response(
                        "The body is missing or not JSON: send a JSON body with `Content-Type: application/json`.",
                    ),
                );
            }
            if RATE_LIMITED.contains(&path.as_str()) {
                let mut r = error_response("Too many requests from this address; retry after `Retry-After` seconds.");
                r["headers"] =
                    json!({"Retry-After": {"required": true, "deprecated": false, "schema": {"type": "string"}}});
                add(responses, "429", r);
            }
        }
    }
}

/// poem-openapi writes validator bounds as floats (`minimum: 1.0`); an integer's are integers.
fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("integer") {
                for key in ["minimum", "maximum"] {
                    if let Some(n) = m.get(key).and_then(Value::as_f64).filter(|n| n.fract() == 0.0) {
                        m.insert(key.to_string(), json!(n as i64));
                    }
                }
            }
            m.values_mut().for_each(integer_bounds);
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// poem-openapi describes a stream as an array of its items; a client (and OpenAPI 3.2's
/// `itemSchema`, which schemathesis follows) reads it event by event: `data` carries the JSON.
fn describe_event_streams(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for op in paths.values_mut().flat_map(|ops| ops.as_object_mut().into_iter().flat_map(|o| o.values_mut())) {
        for response in op["responses"].as_object_mut().into_iter().flat_map(|r| r.values_mut()) {
            let Some(stream) = response.pointer_mut("/content/text~1event-stream/schema") else { continue };
            if stream["format"] != "event-stream" {
                continue;
            }
            let item = stream["items"].clone();
            *stream = json!({
                "type": "object",
                "description": "One server-sent event; `data` is the JSON of the item.",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": item,
                    },
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer"},
                },
            });
        }
    }
}
