//! The C ABI's integration tests, one binary (each test binary links the engine): the ABI from Rust
//! (`abi`), the C program (`c`), the vocabulary constants (`codes`), the checked-in header (`header`).

mod abi;
mod c;
mod codes;
mod header;
