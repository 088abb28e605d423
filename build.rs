// Gives the shared library a soname carrying the major version (libsmoothcache.so.0), as C
// libraries have, so a later incompatible release can live beside this one.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsmoothcache.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
