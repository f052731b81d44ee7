//! What is asked of the server: the count and pages of a search, look-ups by name,
//! morphometry and persistence vectors by id, single files, and the diagnosis of the way to
//! it.

pub(crate) mod by_id;
pub(crate) mod doctor;
pub(crate) mod fetch;
pub(crate) mod lookup;
pub(crate) mod pvec;
pub(crate) mod search;
