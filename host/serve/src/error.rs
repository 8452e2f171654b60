//! An answer the APIs refuse: one type for HTTP (a status and `{"error", "field"}`) and gRPC (a code
//! and the same message), so both refuse alike.

use pathsec::files::FileError;

/// Why a call is refused, naming the field at fault when there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// The field at fault (`requests[3].server`), empty for the whole call.
    pub field: String,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// The kinds of refusal, each with its HTTP status and gRPC code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request does not parse or a value is wrong: 400, `INVALID_ARGUMENT`.
    Invalid,
    /// A device or server it names is not known: 404, `NOT_FOUND`.
    NotFound,
    /// A fact feed writes what it would write: 409, `FAILED_PRECONDITION`.
    Conflict,
    /// Too big: 413, `RESOURCE_EXHAUSTED`.
    TooLarge,
    /// Well-formed, but not acceptable (a policy that fails its checks): 422, `INVALID_ARGUMENT`.
    Unprocessable,
    /// No or a wrong administrative token: 401, `UNAUTHENTICATED`.
    Unauthenticated,
    /// The daemon cannot take it now: 503, `UNAVAILABLE`.
    Unavailable,
}

impl ApiError {
    fn new(kind: ErrorKind, field: &str, message: impl Into<String>) -> ApiError {
        ApiError { kind, field: field.to_owned(), message: message.into() }
    }

    /// 400.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Invalid, field, message)
    }

    /// 404.
    pub fn not_found(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, field, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Conflict, "", message)
    }

    /// 413.
    pub fn too_large(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::TooLarge, field, message)
    }

    /// 422.
    pub fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Unprocessable, field, message)
    }

    /// 401.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Unauthenticated, "", message)
    }

    /// 503.
    pub fn unavailable(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Unavailable, field, message)
    }

    /// A request body or message that did not read: the file error's field and message (its "file"
    /// is the call's body, named `request`).
    pub fn from_file(error: FileError) -> ApiError {
        match error {
            FileError::Parse { field, message, line, .. } => {
                let at = line.map(|line| format!(" (line {line})")).unwrap_or_default();
                ApiError::invalid(
                    &field,
                    format!("{}{message}{at}", if field.is_empty() { String::new() } else { format!("`{field}`: ") }),
                )
            }
            FileError::Invalid { field, message, .. } => ApiError::invalid(&field, format!("`{field}`: {message}")),
            other => ApiError::invalid("", other.to_string()),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::Invalid => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::Unprocessable => 422,
            ErrorKind::Unavailable => 503,
        }
    }

    /// The gRPC status.
    pub fn to_grpc(&self) -> tonic::Status {
        let code = match self.kind {
            ErrorKind::Invalid | ErrorKind::Unprocessable => tonic::Code::InvalidArgument,
            ErrorKind::NotFound => tonic::Code::NotFound,
            ErrorKind::Conflict => tonic::Code::FailedPrecondition,
            ErrorKind::TooLarge => tonic::Code::ResourceExhausted,
            ErrorKind::Unauthenticated => tonic::Code::Unauthenticated,
            ErrorKind::Unavailable => tonic::Code::Unavailable,
        };
        let mut status = tonic::Status::new(code, self.message.clone());
        if !self.field.is_empty()
            && let Ok(value) = self.field.parse()
        {
            status.metadata_mut().insert("pathsec-field", value);
        }
        status
    }

    /// The HTTP body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.message });
        if !self.field.is_empty() {
            body["field"] = self.field.clone().into();
        }
        body
    }
}
