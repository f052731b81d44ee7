//! Facts and text every layer uses: escaping what others wrote for a terminal or a table,
//! UTC times, a compact set of ids, "did you mean" suggestions.

pub(crate) mod id_set;
pub(crate) mod suggest;
pub(crate) mod text;
pub(crate) mod time;
