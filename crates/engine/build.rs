//! Rebuilds the engine when the web interface in `ui/dist` is built again,
//! so the embedded copy is never stale.

fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
}
