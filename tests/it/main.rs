//! neuromorpho's integration tests: one binary (`cargo test --test it`), a module per
//! subject, all sharing `support` (a temp dir, a client and the CLI set up for the fake
//! server of `tests/fake-server`, folder helpers). `cargo test --test it MODULE::` runs one.

mod support;

mod cancel;
mod check;
mod cli;
mod cli_files;
mod cli_output;
mod cli_render;
mod cli_usage;
mod concurrent;
mod datasets;
mod datasets_cli;
mod docs;
mod economy;
mod fake_server;
mod hostile;
mod hostile_fs;
mod hostile_text;
mod hpc;
mod images;
mod layers;
mod library;
mod live;
mod manifest;
mod metadata_formats;
mod morphio_neurom;
mod names;
mod page;
mod reliability;
mod render;
mod resume;
mod surface;
mod swc;
mod tampering;
mod tls;
mod update;
mod verify;
