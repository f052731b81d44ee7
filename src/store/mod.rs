//! The local collection: how files are named and placed in an output folder, written
//! atomically, locked between runs, recorded in the manifest and checked by `verify`; and the
//! rule that whatever is read back from the folder is input.

pub(crate) mod atomic_file;
pub(crate) mod layout;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod safe_fs;
pub(crate) mod verify;
