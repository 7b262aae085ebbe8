fn main() {
    eprintln!("tarweb-serve: not implemented yet (issue 3)");
    std::process::exit(2);
}
