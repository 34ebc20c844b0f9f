//! Whether a compile asks for debug information — one answer for every place that cares: the
//! wrapper (a `-g` job to a distfarm server goes as sources, so its line tables are a direct
//! compile's), `-march=native` expansion (gcc records the switches in `DW_AT_producer`), and
//! `doctor`'s report of native flags.

/// A `-g` option (`-g`, `-g3`, `-ggdb`, `-gdwarf-4`, `-gsplit-dwarf` …) not cancelled by a
/// later `-g0`. `-gno-…`, `-gz…`, `-gcolumn-info` and the like only tune debug information
/// and ask for none by themselves.
pub fn asked_for<'a>(args: impl IntoIterator<Item = &'a str>) -> bool {
    let mut wanted = false;
    for arg in args {
        let Some(level) = arg.strip_prefix("-g") else {
            continue;
        };
        if level == "0" {
            wanted = false;
        } else if level.is_empty()
            || level.starts_with(|c: char| c.is_ascii_digit())
            || KINDS.iter().any(|kind| level.starts_with(kind))
        {
            wanted = true;
        }
    }
    wanted
}

/// The `-gKIND` options that turn debug information on.
const KINDS: [&str; 8] = [
    "gdb",
    "dwarf",
    "stabs",
    "xcoff",
    "vms",
    "split-dwarf",
    "btf",
    "ctf",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_info_is_wanted_for_any_g_level_until_a_later_g0() {
        for yes in [
            "-g -c a.c",
            "-ggdb3 -c a.c",
            "-gdwarf-4 -c a.c",
            "-gdwarf-5",
            "-gsplit-dwarf",
            "-g0 -g2 a.c",
        ] {
            assert!(asked_for(yes.split(' ')), "{yes}");
        }
        for no in [
            "-c a.c",
            "-g -g0 a.c",
            "-g0",
            "-gno-record-gcc-switches -c a.c",
            "-gz -c a.c",
            "-O2",
        ] {
            assert!(!asked_for(no.split(' ')), "{no}");
        }
    }
}
