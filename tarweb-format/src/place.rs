//! Where each block of the data section goes (`format-spec.md` §6): a block
//! of a page or more starts on a page boundary, a smaller one never crosses
//! one, and the padding this costs stays small.

use crate::layout::{align_up, PAGE};
use std::collections::BTreeMap;

/// Lays out the data section: units of a page or more start on a page
/// boundary; smaller ones go, largest first, into the free space that best
/// fits them (the tails of large units or a fresh page), so they never
/// straddle a page boundary. Returns each unit's offset and the total length.
pub(crate) fn place(lens: &[u64]) -> (Vec<u64>, u64) {
    let mut offs = vec![0u64; lens.len()];
    let mut cursor = 0u64;
    let mut end = 0u64;
    // (free bytes, start) -> (); best fit = the first key with enough room.
    let mut bins: BTreeMap<(u64, u64), ()> = BTreeMap::new();
    let mut small = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        if len < PAGE {
            small.push(i);
            continue;
        }
        offs[i] = cursor;
        end = cursor + len;
        cursor = align_up(end, PAGE);
        if cursor > end {
            bins.insert((cursor - end, end), ());
        }
    }
    small.sort_by_key(|&i| (std::cmp::Reverse(lens[i]), i));
    for i in small {
        let len = lens[i];
        let fit = bins.range((len, 0)..).next().map(|(&k, _)| k);
        let start = match fit {
            Some((free, start)) => {
                bins.remove(&(free, start));
                if free > len {
                    bins.insert((free - len, start + len), ());
                }
                start
            }
            None => {
                let start = cursor;
                cursor += PAGE;
                if PAGE > len {
                    bins.insert((PAGE - len, start + len), ());
                }
                start
            }
        };
        offs[i] = start;
        end = end.max(start + len);
    }
    (offs, end)
}
