use std::process::ExitCode;

fn main() -> ExitCode {
    // Die quietly, as Unix tools do, when the reader of the output goes away (`| head`),
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A file-size limit (`ulimit -f`, a quota) would kill the process with SIGXFSZ in the
    // middle of a write; ignored, the write fails with EFBIG and is reported like a full
    // disk, naming the file, after the temporary file is removed.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // Training allocates and frees the same large buffers (logits, gradients) every step;
    // glibc serves blocks above its mmap threshold with fresh mappings, so each step paid
    // for page faults again (12 % of a libtorch step in `perf`). Served from the heap, they
    // are reused: 5-8 % faster steps, about 150 MiB more peak memory (BENCHMARKS.md). Fixing
    // that threshold also fixes the heap's trim threshold at its 128 KiB default, so every
    // free of a large block at the heap's top gave the pages back and the next step faulted
    // them in again: kept, decoding a test set is 13-20 % faster (BENCHMARKS.md).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc settings changed before any allocation of note, on one thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    transformer_mt::backend::pin_default_device();
    transformer_mt::backend::quiet_vulkan_layer();
    let cli = transformer_mt::cli::parse();
    match transformer_mt::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
