//! Generates the Tauri context (configuration, embedded start page, icons).
fn main() {
    tauri_build::build();
}
