//! What `/proc/PID/stat` says about a process: its name, parent and start time (the start
//! time tells a process from a later one that got the same pid).

/// The fields of `/proc/PID/stat` this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (`comm`, at most 15 bytes).
    pub name: String,
    pub parent: u32,
    /// Clock ticks after boot (field 22).
    pub start: u64,
}

pub fn read(pid: u32) -> Option<ProcStat> {
    use std::io::Read;
    // One read into a buffer larger than the line (the kernel hands the line over whole),
    // where `read_to_string` stats the file and reads in growing steps (/proc sizes are 0).
    let path = format!("/proc/{pid}/stat");
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open(&path).ok()?.read(&mut buf).ok()?;
    if n == buf.len() {
        // A line that long has not been seen; read it all rather than cut it.
        return parse(&std::fs::read_to_string(&path).ok()?);
    }
    parse(std::str::from_utf8(&buf[..n]).ok()?)
}

/// The name sits in parentheses and may itself hold spaces and parentheses: the fields
/// after it are read from the last `)`.
pub fn parse(stat: &str) -> Option<ProcStat> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    Some(ProcStat {
        name,
        parent: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` is still the process that started at `start`.
pub fn is_alive(pid: u32, start: u64) -> bool {
    read(pid).is_some_and(|stat| stat.start == start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (my (odd) make) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse(stat),
            Some(ProcStat {
                name: "my (odd) make".into(),
                parent: 17,
                start: 987654
            })
        );
    }

    #[test]
    fn this_process_is_alive_with_its_own_start_time() {
        let me = read(std::process::id()).unwrap();
        assert!(is_alive(std::process::id(), me.start));
        assert!(!is_alive(std::process::id(), me.start + 1));
    }
}
