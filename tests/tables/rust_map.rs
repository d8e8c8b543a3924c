// tests/tables/rust_map.rs - Rust std::collections::HashMap<u64, u64>
// (hashbrown inside Debian's rustc std) grown to N entries, emptied to KEEP
// with HashMap::remove (the table never shrinks on remove), optionally cured
// with shrink_to_fit(). The same CLI as the C programs (table_cli.h):
//   rust_map N KEEP [fix|healthy] [dense|random] [thread] [twice] [gone] [idle]
//
// Prints: impl=rust_hashmap ... live= held= capacity= buckets= tombstones=
//   capacity   HashMap::capacity() now, which hashbrown computes as
//              items + growth_left: tombstones lower it
//   buckets    the bucket count, derived from capacity() when the table had
//              no tombstones (right after the fill, or after the cure):
//              capacity = buckets - 1 below 8 buckets, else buckets / 8 * 7
//   tombstones full capacity of those buckets minus capacity()
//   held       the one allocation: buckets * 16 bytes of (u64, u64) slots,
//              rounded up to 16, then buckets + 16 control bytes (the group
//              width); 0 while there are no buckets (no allocation)
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const GROUP_WIDTH: usize = 16; // hashbrown's SSE2 group on x86-64

struct Args {
    n: u64,
    keep: u64,
    fix: bool,
    healthy: bool,
    dense: bool,
    random: bool,
    thread: bool,
    twice: bool,
    gone: bool,
    idle: bool,
    seed: u64,
}

fn mix64(mut x: u64) -> u64 {
    // splitmix64's finaliser, as in table_cli.h
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

fn key(a: &Args, i: u64) -> u64 {
    if a.dense {
        i
    } else {
        mix64(i ^ a.seed)
    }
}

fn usage(prog: &str) -> ! {
    eprintln!("usage: {} N KEEP [fix|healthy] [dense|random] [thread] [twice] [gone] [idle]", prog);
    std::process::exit(2);
}

fn parse() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv.get(0).map(|s| s.as_str()).unwrap_or("rust_map").to_string();
    if argv.len() < 3 {
        usage(&prog);
    }
    let count = |s: &str| match s.parse::<u64>() {
        Ok(v) if v <= 1u64 << 40 => v,
        _ => usage(&prog),
    };
    let mut a = Args {
        n: count(&argv[1]),
        keep: count(&argv[2]),
        fix: false,
        healthy: false,
        dense: false,
        random: false,
        thread: false,
        twice: false,
        gone: false,
        idle: false,
        seed: 0,
    };
    for w in &argv[3..] {
        match w.as_str() {
            "fix" => a.fix = true,
            "healthy" => a.healthy = true,
            "dense" => a.dense = true,
            "random" => a.random = true,
            "thread" => a.thread = true,
            "twice" => a.twice = true,
            "gone" => a.gone = true,
            "idle" => a.idle = true,
            _ => usage(&prog),
        }
    }
    if (a.fix && a.healthy) || (a.dense && a.random) {
        usage(&prog);
    }
    if a.healthy || a.keep > a.n {
        a.keep = a.n;
    }
    if a.random {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        a.seed = mix64(t.as_nanos() as u64);
    }
    a
}

/// hashbrown's bucket_mask_to_capacity.
fn full_capacity(buckets: usize) -> usize {
    if buckets < 8 {
        buckets.saturating_sub(1)
    } else {
        buckets / 8 * 7
    }
}

/// The bucket count behind a capacity() read while there are no tombstones.
fn buckets_of(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else if capacity < 8 {
        capacity + 1
    } else {
        capacity / 7 * 8
    }
}

fn alloc_bytes(buckets: usize) -> usize {
    if buckets == 0 {
        return 0;
    }
    let slots = std::mem::size_of::<(u64, u64)>() * buckets;
    let ctrl_offset = (slots + GROUP_WIDTH - 1) & !(GROUP_WIDTH - 1);
    ctrl_offset + buckets + GROUP_WIDTH
}

struct Built {
    map: HashMap<u64, u64>,
    buckets: usize,
}

fn build(a: &Args) -> Built {
    let mut map = HashMap::new();
    for i in 0..a.n {
        map.insert(key(a, i), i);
    }
    let mut buckets = buckets_of(map.capacity());
    for i in a.keep..a.n {
        map.remove(&key(a, i));
    }
    if a.fix {
        map.shrink_to_fit();
        buckets = buckets_of(map.capacity());
    }
    Built { map, buckets }
}

fn run(a: &std::sync::Arc<Args>) -> Built {
    if !a.thread {
        return build(a);
    }
    let shared = std::sync::Arc::clone(a);
    match std::thread::spawn(move || build(&shared)).join() {
        Ok(b) => b,
        Err(_) => {
            eprintln!("rust_hashmap: the building thread panicked");
            std::process::exit(3);
        }
    }
}

fn main() {
    let a = std::sync::Arc::new(parse());
    let rounds = if a.twice { 2 } else { 1 };
    let mut built: Option<Built> = None;
    for _ in 0..rounds {
        drop(built.take()); // the first table is freed before the second is built
        built = Some(run(&a));
    }
    let b = built.expect("one round at least");
    let cap = b.map.capacity();
    if cap > full_capacity(b.buckets) {
        eprintln!("rust_hashmap: layout assumption broken: capacity above the buckets' own");
        std::process::exit(3);
    }
    let mode = if a.healthy { "healthy" } else if a.fix { "fix" } else { "keep" };
    let flavour = match (a.thread, a.twice) {
        (true, true) => "thread+twice",
        (true, false) => "thread",
        (false, true) => "twice",
        _ => "plain",
    };
    let keys = if a.dense { "dense" } else if a.random { "random" } else { "mixed" };
    println!(
        "impl=rust_hashmap mode={} flavour={} keys={} live={} held={} capacity={} buckets={} tombstones={}",
        mode,
        flavour,
        keys,
        b.map.len(),
        alloc_bytes(b.buckets),
        cap,
        b.buckets,
        full_capacity(b.buckets) - cap
    );
    if a.idle {
        std::thread::sleep(Duration::from_millis(1200)); // a probe pass reads it kept
    }
    if a.gone {
        drop(b); // destroyed 0.3 s before the end
    }
    std::thread::sleep(Duration::from_millis(300));
    // end with the table still allocated (exit runs no destructor of main's)
    std::process::exit(0);
}
