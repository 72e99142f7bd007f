//! `docs/openapi.yaml` held to the code, so that it cannot drift: every
//! route and method the server registers is documented and nothing else;
//! every error code is in the error schema, and each code is documented
//! only under the status the server answers it with; every operation
//! documents the statuses any request may get, and those its token, limits
//! and body bring. `scripts/api-fuzz.sh` checks the same document against
//! the running server.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use ferry::config::Settings;
use ferry_proto::ErrorCode;
use yaml_rust2::{Yaml, YamlLoader};

/// Statuses any request may get: a malformed head (400), a head or body
/// too slow (408), headers too large (431), a fault (500), a store that
/// does not answer (503).
const ANY_REQUEST: [&str; 5] = ["400", "408", "431", "500", "503"];

/// Codes no operation answers: they are for paths and methods the document
/// does not list.
const OUTSIDE_OPERATIONS: [ErrorCode; 2] = [ErrorCode::NotFound, ErrorCode::MethodNotAllowed];

fn document() -> Yaml {
    let text = include_str!("../docs/openapi.yaml");
    let mut documents = YamlLoader::load_from_str(text).expect("docs/openapi.yaml is YAML");
    assert_eq!(documents.len(), 1, "docs/openapi.yaml holds one document");
    documents.remove(0)
}

fn entries(yaml: &Yaml) -> Vec<(&str, &Yaml)> {
    yaml.as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(key, value)| key.as_str().map(|key| (key, value)))
                .collect()
        })
        .unwrap_or_default()
}

/// One documented operation: its path, method and responses by status.
struct Operation<'d> {
    path: &'d str,
    method: &'d str,
    operation: &'d Yaml,
    responses: BTreeMap<&'d str, &'d Yaml>,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

const METHODS: [&str; 7] = ["get", "head", "put", "post", "patch", "delete", "options"];

fn operations(document: &Yaml) -> Vec<Operation<'_>> {
    let mut operations = Vec::new();
    for (path, item) in entries(&document["paths"]) {
        for (method, operation) in entries(item) {
            if !METHODS.contains(&method) {
                continue;
            }
            operations.push(Operation {
                path,
                method,
                operation,
                responses: entries(&operation["responses"]).into_iter().collect(),
            });
        }
    }
    operations
}

/// A response with its `$ref` followed.
fn resolved<'d>(document: &'d Yaml, response: &'d Yaml) -> &'d Yaml {
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .unwrap_or_else(|| panic!("{reference} is not a response of the components"));
            let target = &document["components"]["responses"][name];
            assert!(!target.is_badvalue(), "{reference} is not defined");
            target
        }
        None => response,
    }
}

/// The error codes a response's description names, as `code`.
fn codes_named(description: &str) -> Vec<ErrorCode> {
    ErrorCode::ALL
        .into_iter()
        .filter(|code| description.contains(&format!("`{code}`")))
        .collect()
}

/// Every `resource("PATH", "METHODS")` the HTTP layer registers.
fn registered_routes() -> BTreeMap<String, BTreeSet<String>> {
    let mut routes = BTreeMap::new();
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in fs::read_dir(&path).expect("src/http is readable") {
                files.push(entry.expect("a directory entry").path());
            }
            continue;
        }
        let source = fs::read_to_string(&path).expect("a source file");
        for call in source.split("resource(\"").skip(1) {
            let mut quoted = call.split('"');
            let route = quoted.next().unwrap_or_default();
            let methods = quoted.nth(1).unwrap_or_default();
            routes.insert(
                route.to_owned(),
                methods
                    .split(',')
                    .map(|method| method.trim().to_lowercase())
                    .collect(),
            );
        }
    }
    routes
}

#[test]
fn every_registered_route_and_method_is_documented_and_nothing_else() {
    let document = document();
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for operation in operations(&document) {
        documented
            .entry(operation.path.to_owned())
            .or_default()
            .insert(operation.method.to_owned());
    }
    let registered = registered_routes();
    assert!(registered.len() >= 10, "found only {registered:?}");
    assert_eq!(documented, registered);
}

#[test]
fn the_error_schema_lists_every_error_code_and_no_other() {
    let document = document();
    let listed: BTreeSet<&str> =
        document["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_vec()
            .expect("the Error schema enumerates its codes")
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
    let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(listed, codes);
}

#[test]
fn each_error_code_is_documented_under_the_status_the_server_answers_it_with() {
    let document = document();
    let mut answered = BTreeSet::new();
    for operation in operations(&document) {
        for (status, response) in &operation.responses {
            let response = resolved(&document, response);
            let description = response["description"].as_str().unwrap_or_default();
            for code in codes_named(description) {
                assert_eq!(
                    code.status().to_string(),
                    *status,
                    "{}: `{code}` is documented under {status}",
                    operation.name()
                );
                answered.insert(code.as_str());
            }
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema.as_str(),
                    Some("#/components/schemas/Error"),
                    "{} {status} is not a JSON error",
                    operation.name()
                );
                assert!(
                    !codes_named(description).is_empty(),
                    "{} {status} names no error code",
                    operation.name()
                );
            }
        }
    }
    for code in ErrorCode::ALL {
        if !OUTSIDE_OPERATIONS.contains(&code) {
            assert!(
                answered.contains(code.as_str()),
                "no operation answers `{code}`"
            );
        }
    }
}

#[test]
fn every_operation_documents_what_any_request_and_its_own_needs_may_get() {
    let document = document();
    for operation in operations(&document) {
        let name = operation.name();
        let has = |status: &str| operation.responses.contains_key(status);
        for status in ANY_REQUEST {
            assert!(has(status), "{name} does not document {status}");
        }
        let public = operation.operation["security"]
            .as_vec()
            .is_some_and(Vec::is_empty);
        if !public {
            assert!(has("401"), "{name} takes a token but does not document 401");
            assert!(
                has("429"),
                "{name} is limited per owner but does not document 429"
            );
        }
        let body = &operation.operation["requestBody"]["content"];
        if !body.is_badvalue() {
            assert!(has("413"), "{name} takes a body but does not document 413");
            let typed = entries(body)
                .iter()
                .any(|(media, _)| *media == "application/json" || *media == "multipart/form-data");
            if typed {
                assert!(
                    has("415"),
                    "{name} takes a typed body but does not document 415"
                );
            }
        }
        if operation.path.starts_with("/v1/files/{sha256}")
            && ["get", "head"].contains(&operation.method)
        {
            for status in ["200", "206", "304", "403", "404", "412", "416"] {
                assert!(has(status), "{name} does not document {status}");
            }
        }
    }
}

#[test]
fn the_request_schemas_state_what_the_server_enforces() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["Sha256"]["pattern"].as_str(),
        Some("^[0-9a-fA-F]{64}$")
    );
    let filename = &schemas["FileName"];
    assert_eq!(filename["minLength"].as_i64(), Some(1));
    assert_eq!(filename["maxLength"].as_i64(), Some(255));
    let pattern = filename["pattern"].as_str().expect("a filename pattern");
    for refused in ["/", "\\\\", "\\x00-\\x1f", "\\u202a-\\u202e", "\\ufeff"] {
        assert!(
            pattern.contains(refused),
            "the filename pattern lets {refused} through"
        );
    }
    let defaults = Settings::defaults();
    let bound = |value: u64| i64::try_from(value).ok();
    let create = &schemas["CreateUpload"];
    assert_eq!(create["additionalProperties"].as_bool(), Some(false));
    assert_eq!(
        create["properties"]["size"]["maximum"].as_i64(),
        bound(defaults.max_file_size),
        "the size bound is not FERRY_MAX_FILE_SIZE's default"
    );
    assert_eq!(
        create["properties"]["chunk_size"]["minimum"].as_i64(),
        Some(1)
    );
    let index = &document["components"]["parameters"]["ChunkIndex"]["schema"];
    assert_eq!(index["minimum"].as_i64(), Some(0));
    assert_eq!(
        index["maximum"].as_i64(),
        bound(defaults.max_chunks - 1),
        "the chunk index bound is not FERRY_MAX_CHUNKS's default"
    );
    let direct =
        &document["paths"]["/v1/files/{sha256}"]["put"]["requestBody"]["content"]["*/*"]["schema"];
    assert_eq!(
        direct["maxLength"].as_i64(),
        bound(defaults.direct_upload_max),
        "the one-request bound is not FERRY_DIRECT_UPLOAD_MAX's default"
    );
}
