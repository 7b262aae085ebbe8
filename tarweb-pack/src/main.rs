mod input;
mod rules;

fn main() {}
