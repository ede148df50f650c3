//! Build script: embeds the web app. By default it runs `npm ci` (when needed) and
//! `npm run build` in `web/` with the output in `OUT_DIR/web`; `NOOK_WEB_DIST=<dir>` copies a
//! prebuilt dist instead, and `NOOK_SKIP_WEB_BUILD=1` embeds a placeholder page. It also
//! records the git commit and build date for `/api/get_version`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web_src = manifest.join("../web");
    let web_out = out.join("web");

    for var in ["NOOK_WEB_DIST", "NOOK_SKIP_WEB_BUILD", "SOURCE_DATE_EPOCH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    for f in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "svelte.config.js",
        "tsconfig.json",
        "public",
        "scripts",
    ] {
        // A path that does not exist makes cargo rerun this script on every build.
        let path = web_src.join(f);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    // The web app's API types are generated from the spec during its build.
    println!("cargo:rerun-if-changed={}", manifest.join("../openapi/openapi.json").display());
    println!("cargo:rerun-if-changed={}", manifest.join("../.git/HEAD").display());

    let _ = std::fs::remove_dir_all(&web_out);
    std::fs::create_dir_all(&web_out).expect("create web out dir");
    if std::env::var("NOOK_SKIP_WEB_BUILD").is_ok_and(|v| v == "1" || v == "true") {
        std::fs::write(web_out.join("index.html"), PLACEHOLDER).expect("write placeholder");
    } else if let Ok(dist) = std::env::var("NOOK_WEB_DIST") {
        copy_dir(Path::new(&dist), &web_out);
        println!("cargo:rerun-if-changed={dist}");
    } else {
        build_web(&web_src, &web_out);
    }

    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(&manifest)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NOOK_GIT_COMMIT={commit}");
    let secs = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    });
    println!("cargo:rustc-env=NOOK_BUILD_DATE={}", rfc3339(secs));
}

fn build_web(src: &Path, out: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let stamp = src.join("node_modules/.package-lock.json");
    let lock = src.join("package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified().ok() < l.modified().ok(),
        _ => true,
    };
    if stale {
        run(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(src), "npm ci");
    }
    run(Command::new(npm).args(["run", "build"]).env("NOOK_WEB_OUT", out).current_dir(src), "npm run build");
    if !out.join("index.html").exists() {
        panic!("web build produced no index.html in {}", out.display());
    }
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!(
            "{what} failed to start ({e}); install Node.js 20+ and npm, or set NOOK_SKIP_WEB_BUILD=1 or NOOK_WEB_DIST"
        )
    });
    if !status.success() {
        panic!("{what} failed with {status}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("NOOK_WEB_DIST {}: {e}", from.display())) {
        let entry = entry.expect("read dist entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("create dir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy dist file");
        }
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no dependencies).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Nook</title></head>\
<body><h1>Nook</h1><p>This build has no web app (built with NOOK_SKIP_WEB_BUILD=1). \
The API is at <a href=\"/api/docs\">/api/docs</a>.</p></body></html>\n";
