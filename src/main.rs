use std::process::ExitCode;

fn main() -> ExitCode {
    // Die quietly, as Unix tools do, when the reader of the output goes away (`| head`),
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = transformer_mt::cli::parse();
    match transformer_mt::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
