//! Status codes, the thread's last error message, and the guard every exported function runs in:
//! arguments checked, panics caught, the message kept for `pathsec_last_error`.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What every `pathsec_` function returns: `PATHSEC_OK`, or what went wrong (the message is then
/// [`pathsec_last_error`]'s).
pub type PathsecStatus = i32;

/// Done.
pub const PATHSEC_OK: PathsecStatus = 0;
/// A pointer argument that must not be null was null.
pub const PATHSEC_ERR_NULL: PathsecStatus = 1;
/// A handle that is not live: never issued, freed already (a use after free, a double free), or a
/// handle of another kind (a policy where an engine is wanted).
pub const PATHSEC_ERR_HANDLE: PathsecStatus = 2;
/// An argument out of range: not UTF-8, a wrong struct size or length, an unknown code, a malformed
/// identifier or file.
pub const PATHSEC_ERR_INVALID: PathsecStatus = 3;
/// A policy that cannot be loaded (not a component, wrong world, unsigned, an artifact for another
/// target…), or a swap refused because the new policy failed its self-check.
pub const PATHSEC_ERR_POLICY: PathsecStatus = 4;
/// A device handle the runtime did not issue, or the runtime is full.
pub const PATHSEC_ERR_DEVICE: PathsecStatus = 5;
/// The worker is deciding on another thread: a worker is for one thread at a time.
pub const PATHSEC_ERR_BUSY: PathsecStatus = 6;
/// The output buffer is too small; the length needed was written.
pub const PATHSEC_ERR_BUFFER: PathsecStatus = 7;
/// The registration exchange refused a message (malformed, replayed, for another device…).
pub const PATHSEC_ERR_REGISTRATION: PathsecStatus = 8;
/// Every handle slot is in use.
pub const PATHSEC_ERR_CAPACITY: PathsecStatus = 9;
/// A file cannot be read.
pub const PATHSEC_ERR_IO: PathsecStatus = 10;
/// A bug in pathsec (a panic, caught at the boundary): the message says where.
pub const PATHSEC_ERR_INTERNAL: PathsecStatus = 11;

/// An error to report: its status and message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: PathsecStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: PathsecStatus, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(PATHSEC_ERR_INVALID, message)
    }
}

pub(crate) type Result<T> = std::result::Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs an exported function's body: its failure (or panic) becomes a status and the thread's last
/// error; success leaves the last error as it was (no allocation on the decision path).
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> PathsecStatus {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return PATHSEC_OK,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Failure::new(PATHSEC_ERR_INTERNAL, format!("internal error in pathsec (please report it): {why}"))
        }
    };
    set_last_error(&failure.message);
    failure.status
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// The message of the last call on this thread that failed: NUL-terminated UTF-8, owned by pathsec,
/// valid until the next failing call on this thread. Empty when no call has failed.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

/// Copies the last error message (see [`pathsec_last_error`]) into `buffer` of `capacity` bytes, NUL
/// included, truncating it if needed. Returns the message's length without the NUL: a result of
/// `capacity` or more means it was truncated.
///
/// # Safety
/// `buffer` is null (only the length is returned) or writable for `capacity` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_last_error_copy(buffer: *mut c_char, capacity: usize) -> usize {
    LAST_ERROR.with(|last| {
        let last = last.borrow();
        let bytes = last.as_bytes();
        if !buffer.is_null() && capacity > 0 {
            let n = bytes.len().min(capacity - 1);
            // SAFETY: the caller gives `capacity` writable bytes; `n + 1 <= capacity`.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), n);
                *buffer.add(n) = 0;
            }
        }
        bytes.len()
    })
}

/// The constant name of a status (`"PATHSEC_ERR_HANDLE"`), or `"unknown status"`.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_status_name(status: PathsecStatus) -> *const c_char {
    let name: &CStr = match status {
        PATHSEC_OK => c"PATHSEC_OK",
        PATHSEC_ERR_NULL => c"PATHSEC_ERR_NULL",
        PATHSEC_ERR_HANDLE => c"PATHSEC_ERR_HANDLE",
        PATHSEC_ERR_INVALID => c"PATHSEC_ERR_INVALID",
        PATHSEC_ERR_POLICY => c"PATHSEC_ERR_POLICY",
        PATHSEC_ERR_DEVICE => c"PATHSEC_ERR_DEVICE",
        PATHSEC_ERR_BUSY => c"PATHSEC_ERR_BUSY",
        PATHSEC_ERR_BUFFER => c"PATHSEC_ERR_BUFFER",
        PATHSEC_ERR_REGISTRATION => c"PATHSEC_ERR_REGISTRATION",
        PATHSEC_ERR_CAPACITY => c"PATHSEC_ERR_CAPACITY",
        PATHSEC_ERR_IO => c"PATHSEC_ERR_IO",
        PATHSEC_ERR_INTERNAL => c"PATHSEC_ERR_INTERNAL",
        _ => c"unknown status",
    };
    name.as_ptr()
}

/// Checks a pointer argument is not null.
pub(crate) fn non_null<T>(pointer: *const T, argument: &str) -> Result<*const T> {
    match pointer.is_null() {
        true => Err(Failure::new(PATHSEC_ERR_NULL, format!("argument `{argument}` is null"))),
        false => Ok(pointer),
    }
}

/// Checks an output pointer is not null.
pub(crate) fn out<T>(pointer: *mut T, argument: &str) -> Result<*mut T> {
    non_null(pointer.cast_const(), argument).map(|p| p.cast_mut())
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `pointer` is null (refused) or a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text<'a>(pointer: *const c_char, argument: &str) -> Result<&'a str> {
    non_null(pointer, argument)?;
    // SAFETY: not null, and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(pointer) };
    bytes.to_str().map_err(|e| {
        Failure::invalid(format!(
            "argument `{argument}` is not UTF-8 (byte {} is invalid): pass UTF-8 text",
            e.valid_up_to()
        ))
    })
}

/// An optional string argument: null is `None`.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(pointer: *const c_char, argument: &str) -> Result<Option<&'a str>> {
    match pointer.is_null() {
        true => Ok(None),
        // SAFETY: as the caller's.
        false => unsafe { text(pointer, argument) }.map(Some),
    }
}

/// A byte-buffer argument: `length` bytes at `pointer` (null only when `length` is 0).
///
/// # Safety
/// `pointer` is readable for `length` bytes for the call.
pub(crate) unsafe fn bytes<'a>(pointer: *const u8, length: usize, argument: &str) -> Result<&'a [u8]> {
    if length == 0 {
        return Ok(&[]);
    }
    non_null(pointer, argument)?;
    if length > isize::MAX as usize {
        return Err(Failure::invalid(format!("argument `{argument}`: length {length} is not a buffer's length")));
    }
    // SAFETY: not null, and readable for `length` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(pointer, length) })
}

/// Writes `data` to an output buffer of `capacity` bytes and its length to `written`; a buffer too
/// small gets nothing but the length needed, and `PATHSEC_ERR_BUFFER`.
///
/// # Safety
/// `buffer` is writable for `capacity` bytes (or null with `capacity` 0); `written` is writable.
pub(crate) unsafe fn write_out(
    data: &[u8],
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
    what: &str,
) -> Result<()> {
    let written = out(written, "written")?;
    // SAFETY: checked not null; writable by the caller's contract.
    unsafe { *written = data.len() };
    if data.len() > capacity {
        return Err(Failure::new(
            PATHSEC_ERR_BUFFER,
            format!(
                "the {what} is {} bytes, and the buffer has {capacity}: call again with a buffer of `*written` bytes",
                data.len()
            ),
        ));
    }
    if !data.is_empty() {
        let buffer = out(buffer, "buffer")?;
        // SAFETY: checked not null; `data.len() <= capacity` writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };
    }
    Ok(())
}

/// Checks a caller's struct was compiled against this header: its `size` field.
pub(crate) fn struct_size(found: u32, expected: usize, what: &str) -> Result<()> {
    match found as usize == expected {
        true => Ok(()),
        false => Err(Failure::invalid(format!(
            "`{what}.size` is {found}, and this library's `{what}` is {expected} bytes: set it to `sizeof({what})`, and build against the header of this library version"
        ))),
    }
}
