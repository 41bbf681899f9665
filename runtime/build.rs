//! Embeds an rpath to the libpython that PyO3 links against, so the binary
//! starts without LD_LIBRARY_PATH when Python is a pyenv/shared build.
fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
