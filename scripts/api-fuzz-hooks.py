"""Schemathesis hooks of scripts/api-fuzz.sh.

A request the document allows may still be refused for what no schema can
express: bytes that hash to another sha256, a chunk that does not fit its
session, a precondition or a range that does not hold for the file. The
status of such a refusal is shared with refusals the document should have
prevented (a 400 `invalid-request`, a 413 `file-too-large` under the
documented maximum), so this check reads the error's code, which the API
keeps stable for clients to match on.
"""

import jsonschema_rs
import schemathesis

# Refusals any operation may answer a valid request with: credentials,
# what does not exist or is busy, and per-owner limits.
ANY_OPERATION = {
    "unauthorized",
    "forbidden",
    "upload-not-found",
    "file-not-found",
    "upload-conflict",
    "upload-not-writable",
    "chunks-missing",
    "too-many-requests",
}

CHUNK = {
    # The session decides how many chunks there are and how long each is;
    # a digest header that does not match the body is a wrong hash.
    "chunk-index-out-of-range",
    "chunk-size-mismatch",
    "chunk-too-large",
    "digest-mismatch",
}
WHOLE_FILE = {
    # The bytes hash to another sha256, or that sha256 is published with
    # another size.
    "hash-mismatch",
    "size-mismatch",
}
DOWNLOAD = {
    # Whether an ETag or a date holds, or a range lies within the file,
    # depends on the file.
    "precondition-failed",
    "range-not-satisfiable",
}

TUS = {
    # Where an upload stands decides the offset an append must start at;
    # the body must fit the length the upload was given; the bytes decide
    # whether a checksum or the whole file's hash holds.
    "offset-mismatch",
    "checksum-mismatch",
    "file-too-large",
    "hash-mismatch",
}

BY_OPERATION = {
    "POST /v1/tus": TUS,
    "PATCH /v1/tus/{id}": TUS,
    "POST /v1/tus/{id}": TUS,
    "POST /v1/uploads": {"size-mismatch"},
    "PUT /v1/uploads/{sha256}/chunks/{index}": CHUNK,
    "POST /v1/uploads/{sha256}/chunks/{index}": CHUNK,
    "POST /v1/uploads/{sha256}/complete": {"hash-mismatch"},
    "PUT /v1/files/{sha256}": WHOLE_FILE,
    "POST /v1/files": WHOLE_FILE,
    "GET /v1/files/{sha256}": DOWNLOAD,
    "HEAD /v1/files/{sha256}": DOWNLOAD,
    "GET /v1/files/{sha256}/{filename}": DOWNLOAD,
    "HEAD /v1/files/{sha256}/{filename}": DOWNLOAD,
    # A cursor is opaque: only one this server gave lists on.
    "GET /v1/files": {"invalid-request"},
}

# A HEAD answer has no body to read a code from.
CODE_OF_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "file-not-found",
    412: "precondition-failed",
    416: "range-not-satisfiable",
    429: "too-many-requests",
}


@schemathesis.serializer("application/offset+octet-stream")
def offset_octet_stream(ctx, value):
    """A tus append's body: the bytes as they are."""
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


def refusal_code(response):
    if not response.content:
        return CODE_OF_STATUS.get(response.status_code)
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def headers_the_document_allows(case):
    """Whether every header the case sends fits its parameter's schema.

    Schemathesis' coverage phase draws header values from letters and
    digits only, and where a pattern needs more (`Content-Digest` needs `=`
    and `:`) it may still send a placeholder such as `0` as a valid value.
    """
    sent = case.headers or {}
    for parameter in case.operation.headers:
        value = sent.get(parameter.name)
        if value is None:
            continue
        if not jsonschema_rs.validator_for(parameter.validation_schema).is_valid(value):
            return False
    return True


def form_names_quoted_alike(case):
    """Whether the case's form field names read the same however quoted.

    ferry reads a quoted `name` as RFC 7578 and RFC 9110 write it, with a
    backslash escaping the next character; HTML's form encoding, which the
    client sending these requests follows, sends a backslash bare. A name
    holding one (an extra field, which ferry ignores) may then arrive as an
    unterminated quoted string: no schema says how a name is quoted on the
    wire.
    """
    if not isinstance(case.body, dict) or "multipart/" not in (case.media_type or ""):
        return True
    return not any("\\" in name for name in case.body)


@schemathesis.check
def valid_requests_are_refused_only_for_what_no_schema_expresses(ctx, response, case):
    """A request the document allows is refused only for its state or its hashes."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if not 400 <= response.status_code < 500:
        return None
    if not (headers_the_document_allows(case) and form_names_quoted_alike(case)):
        return None
    code = refusal_code(response)
    allowed = ANY_OPERATION | BY_OPERATION.get(case.operation.label, set())
    if code not in allowed:
        raise AssertionError(
            f"a request the document allows was refused with {response.status_code} "
            f"`{code}`, which the document could have prevented"
        )
    return None
