//! `ferry`: the command-line client.

fn main() {
    eprintln!("ferry: the command-line client is not built yet");
    std::process::exit(2);
}
