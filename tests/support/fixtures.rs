//! Hostile and broken policies, built at test time from core-module WAT and a WIT world with
//! `wit-component` — the same way a real guest toolchain makes a component. Nothing prebuilt.

use std::path::Path;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

// The bodies below write the canonical ABI by hand: enum values are indices into the WIT's `action`
// (send-plain = 0, secure-then-send = 1) and `reason` (path-secure = 0, …,
// policy-requires-application-security = 13) lists; `reason_indices_match_the_wit` checks them.

/// The body of `load`: returns a pointer to a `result<_, string>` (ok: discriminant 0 at offset 0).
pub const LOAD_OK: &str = "(i32.store8 (i32.const 32) (i32.const 0)) (i32.const 32)";
/// The body of `load` that rejects every fact set with the message "lists rejected".
pub const LOAD_REJECTS: &str = "(i32.store8 (i32.const 32) (i32.const 1)) \
     (i32.store (i32.const 36) (i32.const 512)) (i32.store (i32.const 40) (i32.const 14)) (i32.const 32)";
/// The body of `decide` that answers `secure-then-send` / `policy-requires-application-security`.
pub const DECIDE_STRICT: &str =
    "(i32.store8 (i32.const 16) (i32.const 1)) (i32.store8 (i32.const 17) (i32.const 13)) (i32.const 16)";
/// The body of `decide` that answers `send-plain` / `path-secure` to everything, even to receipts.
pub const DECIDE_SEND_PLAIN: &str =
    "(i32.store8 (i32.const 16) (i32.const 0)) (i32.store8 (i32.const 17) (i32.const 0)) (i32.const 16)";
/// The body of `decide` that answers an action the WIT does not have (discriminant 200).
pub const DECIDE_BAD_ENUM: &str =
    "(i32.store8 (i32.const 16) (i32.const 200)) (i32.store8 (i32.const 17) (i32.const 0)) (i32.const 16)";
/// A body that never returns.
pub const SPIN: &str = "(loop $forever (br $forever)) (unreachable)";
/// A body that traps.
pub const TRAP: &str = "(unreachable)";
/// A `decide` body that calls `decide` (function 2: after `cabi_realloc` and `load`) with its own
/// argument (the request's address: a request flattens to 17 values, past the canonical ABI's 16, so
/// it crosses in memory), for ever: the call stack runs out.
pub const RECURSE: &str = "(drop (call 2 (local.get 0))) (unreachable)";
/// A `decide-packed` body that writes its first answer, then traps halfway through the batch.
pub const PACKED_TRAP_HALFWAY: &str = "(i32.store8 (i32.const 1024) (i32.const 105)) (unreachable)";
/// A body that asks for a table of 200,000 elements (past the default cap of 100,000), then traps.
pub const TABLE_BOMB: &str = "(drop (table.grow (ref.null func) (i32.const 199999))) (unreachable)";
/// A body that grows memory until refused, then traps (as Rust's allocator aborts).
pub const MEMORY_BOMB: &str = "(block $refused (loop $more (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br $more))) (unreachable)";
/// The body of `decide-batch` that answers every batch with an empty list.
pub const BATCH_EMPTY: &str =
    "(i32.store (i32.const 48) (i32.const 0)) (i32.store (i32.const 52) (i32.const 0)) (i32.const 48)";

/// The packed answer `secure-then-send` / `policy-requires-application-security`, as `DECIDE_STRICT`.
pub const PACKED_STRICT: u8 = 1 | 13 << 3;

/// The body of `decide-packed` that answers `byte` to every request (255 names no action or reason).
pub fn packed_every(byte: u8) -> String {
    format!(
        "(memory.fill (i32.const 1024) (i32.const {byte}) (i32.shr_u (local.get 1) (i32.const 1))) \
         (i32.store (i32.const 56) (i32.const 1024)) (i32.store (i32.const 60) (i32.shr_u (local.get 1) (i32.const 1))) \
         (i32.const 56)"
    )
}
/// The body of `decide-packed` that answers every batch with one decision.
pub const PACKED_ONE: &str = "(i32.store8 (i32.const 1024) (i32.const 105)) (i32.store (i32.const 56) (i32.const 1024)) \
     (i32.store (i32.const 60) (i32.const 1)) (i32.const 56)";

/// A `path-secure` component whose three exports run the given WAT bodies.
pub fn policy(load: &str, decide: &str, decide_batch: &str) -> Vec<u8> {
    componentize(&module(load, decide, decide_batch, ""), WitSource::Repository, "path-secure")
}

/// A `path-secure-packed` component: as [`policy`], and `decide-packed` runs `decide_packed`.
pub fn packed_policy(load: &str, decide: &str, decide_batch: &str, decide_packed: &str) -> Vec<u8> {
    let export = format!(
        r#"(func (export "pathsec:policy/decide-packed@0.2.0#decide-packed") (param i32 i32) (result i32) {decide_packed})"#
    );
    componentize(&module(load, decide, decide_batch, &export), WitSource::Repository, "path-secure-packed")
}

/// A `path-secure-scalar` component: as [`packed_policy`] (strict `decide`, `decide-packed` answering
/// [`PACKED_STRICT`]), and `decide-one` (two `i64` parameters, the request's words) runs `decide_one`.
pub fn scalar_policy(decide_one: &str) -> Vec<u8> {
    let export = format!(
        r#"(func (export "pathsec:policy/decide-packed@0.2.0#decide-packed") (param i32 i32) (result i32) {packed})
  (func (export "pathsec:policy/decide-scalar@0.2.0#decide-one") (param i64 i64) (result i32) {decide_one})"#,
        packed = packed_every(PACKED_STRICT),
    );
    componentize(&module(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &export), WitSource::Repository, "path-secure-scalar")
}

fn module(load: &str, decide: &str, decide_batch: &str, more: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (data (i32.const 512) "lists rejected")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (unreachable)))
        (br $grow)))
    (local.get $ptr))
  (func (export "pathsec:policy/decide@0.2.0#load")
    (param i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) {load})
  (func (export "pathsec:policy/decide@0.2.0#decide") (param i32) (result i32) {decide})
  (func (export "pathsec:policy/decide@0.2.0#decide-batch") (param i32 i32) (result i32) {decide_batch})
  {more}
)"#
    )
}

/// A `pathsec-host` component (every export the host knows): strict on every path decision;
/// `decide-trigger` runs `decide_trigger` (its nine flat parameters: naf, registered, the protection's
/// case and three flags, the window's case and two `s64`; it returns a pointer to the verdict's two
/// enum bytes) and `admit` runs `admit` (eight `i32`: server, the external id's pointer and length, the
/// flag, server-named, the proposed name's case, pointer and length; it returns a pointer to the
/// variant: case byte at 0; for `allow` the name's case at 4, pointer at 8, length at 12; for `reject`
/// the cause byte at 4, the back-off's case at 8 and `u32` at 12); `submit-trigger` accepts every
/// submission (`within-limits`); `decide-access` runs `decide_access`
/// (nine `i32`: the serving network's option case, MCC, MNC and digits, access, listed, tunnel-up, the
/// keys' pointer and length; it returns a pointer to the
/// verdict: trusted at 0, reason at 1, the bootstrap's case at 2 and method at 3); `decide-media` runs
/// [`MEDIA_NETWORK_LAYER`] (eight `i32`: three flags, the two identities' pointers and lengths, voucher
/// offered; it returns a pointer to the verdict's two enum bytes); `decide-location` acts on every
/// update and `decide-name` grants `m.iot.example.com` to every request, bound to `mallory` (not the
/// requester).
pub fn related_policy(decide_trigger: &str, admit: &str, decide_access: &str) -> Vec<u8> {
    let more = format!(
        r#"(func (export "pathsec:policy/decide-packed@0.2.0#decide-packed") (param i32 i32) (result i32) {packed})
  (func (export "pathsec:policy/decide-scalar@0.2.0#decide-one") (param i64 i64) (result i32) (i32.const {PACKED_STRICT}))
  (func (export "pathsec:policy/trigger-guard@0.2.0#decide-trigger")
    (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32) {decide_trigger})
  (func (export "pathsec:policy/attach-admission@0.2.0#admit")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) {admit})
  (func (export "pathsec:policy/attach-admission@0.2.0#submit-trigger")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 88) (i32.const 1)) (i32.store8 (i32.const 89) (i32.const 0)) (i32.const 88))
  (func (export "pathsec:policy/access-trust@0.2.0#decide-access")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) {decide_access})
  (func (export "pathsec:policy/media-security@0.2.0#decide-media")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) {MEDIA_NETWORK_LAYER})
  (data (i32.const 600) "mallory")
  (data (i32.const 640) "m.iot.example.com")
  (func (export "pathsec:policy/binding-update@0.2.0#decide-location") (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0)) (i32.store8 (i32.const 65) (i32.const 0)) (i32.const 64))
  (func (export "pathsec:policy/binding-update@0.2.0#decide-name")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 76) (i32.const 640)) (i32.store (i32.const 80) (i32.const 17))
    (i32.store (i32.const 84) (i32.const 600)) (i32.store (i32.const 88) (i32.const 7)) (i32.const 72))"#,
        packed = packed_every(PACKED_STRICT),
    );
    componentize(&module(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &more), WitSource::Repository, "pathsec-host")
}

/// The body of `decide-access` that answers untrusted / `wireline` / bootstrap `not-needed`.
pub const ACCESS_UNTRUSTED_NOT_NEEDED: &str = "(i32.store8 (i32.const 48) (i32.const 0)) (i32.store8 (i32.const 49) (i32.const 5)) \
     (i32.store8 (i32.const 50) (i32.const 0)) (i32.const 48)";
/// The body of `decide-access` that answers untrusted / `wireline` / use `gba-push`.
pub const ACCESS_USE_GBA_PUSH: &str = "(i32.store8 (i32.const 48) (i32.const 0)) (i32.store8 (i32.const 49) (i32.const 5)) \
     (i32.store8 (i32.const 50) (i32.const 1)) (i32.store8 (i32.const 51) (i32.const 0)) (i32.const 48)";

/// The body of `decide-media` that answers `network-layer` / `path-secure` to every call.
pub const MEDIA_NETWORK_LAYER: &str =
    "(i32.store8 (i32.const 56) (i32.const 0)) (i32.store8 (i32.const 57) (i32.const 0)) (i32.const 56)";

/// The body of `admit` that allows everything, granting no name.
pub const ADMIT_ALLOW: &str =
    "(i32.store8 (i32.const 40) (i32.const 0)) (i32.store8 (i32.const 44) (i32.const 0)) (i32.const 40)";
/// The body of `decide-trigger` that discards everything as unprotected.
pub const TRIGGER_DISCARD: &str =
    "(i32.store8 (i32.const 24) (i32.const 1)) (i32.store8 (i32.const 25) (i32.const 1)) (i32.const 24)";

/// The body of `decide-trigger` that answers `accept-within-window` / `window-not-open` to everything.
pub const TRIGGER_KEEP_FOR_WINDOW: &str =
    "(i32.store8 (i32.const 24) (i32.const 2)) (i32.store8 (i32.const 25) (i32.const 7)) (i32.const 24)";

/// A policy built for `pathsec:policy@0.1.0` (the repository's `wit/0.1.0/`): its `decide` answers
/// `secure-then-send` with the reason numbered as the 0.1.0 registration case it was given (none 0,
/// agreed 1, mismatch 2: `path-secure`, `serving-network-unknown`, `registration-mismatch`), so a test
/// sees what the adapter passed.
pub fn policy_v0_1() -> Vec<u8> {
    let module = r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 2048))
  (func (export "pathsec:policy/decide@0.1.0#load")
    (param i64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 32) (i32.const 0)) (i32.const 32))
  (func (export "pathsec:policy/decide@0.1.0#decide")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1)) (i32.store8 (i32.const 17) (local.get 15)) (i32.const 16))
  (func (export "pathsec:policy/decide@0.1.0#decide-batch") (param i32 i32) (result i32)
    (i32.store (i32.const 48) (i32.const 0)) (i32.store (i32.const 52) (i32.const 0)) (i32.const 48))
)"#;
    componentize(module, WitSource::Dir("wit/0.1.0"), "path-secure")
}

/// A component whose `pathsec:policy/decide` has other functions than the host's WIT.
pub fn wrong_world() -> Vec<u8> {
    let wit = "package pathsec:policy@0.1.0;
        interface decide { decide: func(x: u32) -> u32; }
        world path-secure { export decide; }";
    let module =
        r#"(module (func (export "pathsec:policy/decide@0.1.0#decide") (param i32) (result i32) (local.get 0)))"#;
    componentize(module, WitSource::Text(wit), "path-secure")
}

/// A component with a good `decide` and a `pathsec:policy/trigger-guard` whose function has other
/// types than the host's WIT (an optional export of another version, say).
pub fn wrong_trigger_guard() -> Vec<u8> {
    let contract = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit/path-secure.wit"))
        .unwrap_or_else(|e| panic!("cannot read wit/path-secure.wit: {e}"));
    let wit = format!(
        "{contract}
        interface trigger-guard {{ decide-trigger: func(x: u32) -> u32; }}
        world odd-guard {{ include path-secure; export trigger-guard; }}"
    );
    let more = r#"(func (export "pathsec:policy/trigger-guard@0.2.0#decide-trigger") (param i32) (result i32)
    (local.get 0))"#;
    componentize(&module(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, more), WitSource::Text(&wit), "odd-guard")
}

/// A component that imports an interface the host does not offer (a socket of its own).
pub fn foreign_import() -> Vec<u8> {
    let wit = "package evil:net@0.1.0;
        interface socket { connect: func(port: u16) -> u32; }
        world grab { import socket; export run: func() -> u32; }";
    let module = r#"(module
        (import "evil:net/socket@0.1.0" "connect" (func $connect (param i32) (result i32)))
        (func (export "run") (result i32) (call $connect (i32.const 22))))"#;
    componentize(module, WitSource::Text(wit), "grab")
}

/// A component that exports nothing.
pub fn empty_component() -> Vec<u8> {
    wat("(component)")
}

/// A core module (not a component) that exports the right names.
pub fn core_module() -> Vec<u8> {
    wat(r#"(module (func (export "pathsec:policy/decide@0.1.0#decide") (param i32) (result i32) (local.get 0)))"#)
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("fixture WAT does not parse: {e}"))
}

enum WitSource<'a> {
    /// The repository's `wit/`, the contract the host implements.
    Repository,
    /// A directory of the repository holding another WIT package (an older version).
    Dir(&'a str),
    /// A WIT package given inline.
    Text(&'a str),
}

fn componentize(module_wat: &str, wit: WitSource<'_>, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let package = match wit {
        WitSource::Repository => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
            resolve.push_dir(&dir).map(|(package, _)| package)
        }
        WitSource::Dir(dir) => {
            resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).map(|(package, _)| package)
        }
        WitSource::Text(text) => resolve.push_str("fixture.wit", text),
    }
    .unwrap_or_else(|e| panic!("fixture WIT does not parse: {e:#}"));
    let world = resolve.select_world(&[package], Some(world)).unwrap_or_else(|e| panic!("no world: {e:#}"));
    let mut module = wat(module_wat);
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .unwrap_or_else(|e| panic!("cannot embed WIT: {e:#}"));
    ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|mut encoder| encoder.encode())
        .unwrap_or_else(|e| panic!("fixture does not componentize: {e:#}"))
}
