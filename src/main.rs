use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = transformer_mt::cli::parse();
    match transformer_mt::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
