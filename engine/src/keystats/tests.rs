use super::arena::ITEM_OVERHEAD_BYTES;
use super::sketch::*;
use super::statistics::*;
use super::*;
use crate::error::MsqError;

#[test]
fn cmp_keys_is_byte_order() {
    let keys: Vec<&[u8]> = vec![
        b"",
        b"a",
        b"ab",
        b"abcdefgh",
        b"abcdefgh\0",
        b"abcdefgi",
        b"abcdefghij",
        b"b",
        b"\xff\x00",
        b"abcdefg",
    ];
    for a in &keys {
        for b in &keys {
            assert_eq!(cmp_keys(a, b), a.cmp(b), "{a:?} {b:?}");
        }
    }
}

/// A distinct, well-mixed 8-byte key for every `i`.
fn key(i: u64) -> [u8; 8] {
    splitmix64(i).to_be_bytes()
}

/// Routes keys and counts rows per partition, checking each key's range contains it.
fn route<'a>(p: &RangePartitions, keys: impl Iterator<Item = (i64, &'a [u8])>) -> Vec<u64> {
    let mut counts = vec![0u64; p.len()];
    for (b, k) in keys {
        let i = p.partition_for(b, k);
        assert!(
            p.ranges[i].contains(b, k),
            "key {k:?} of bucket {b} routed to {:?}",
            p.ranges[i]
        );
        counts[i] += 1;
    }
    counts
}

#[test]
fn empty_statistics() {
    let s = KeyStatistics::new(100);
    assert_eq!(s.total_rows(), 0);
    assert_eq!(s.bucket_count(), 0);
    assert!(s.is_empty());
    let p = boundaries_by_target_size(&s, 10, 10, 10).unwrap();
    assert!(p.is_empty());
    assert_eq!(p.partition_for(0, b"x"), 0);
    assert_eq!(boundaries_by_count(&s, 4), RangePartitions::single());
    assert_eq!(
        KeyStatistics::default().max_retained_keys_per_bucket(),
        DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET
    );
}

#[test]
fn exact_small_target_size() {
    let mut s = KeyStatistics::new(64);
    for k in [b"a", b"b", b"c", b"d", b"e"] {
        s.add(0, k);
    }
    assert!(s.is_exact());
    let p = boundaries_by_target_size(&s, 2, 10, 10).unwrap();
    p.validate().unwrap();
    assert_eq!(
        p.ranges,
        vec![
            KeyRange {
                bucket: 0,
                start: None,
                end: Some(b"c".to_vec())
            },
            KeyRange {
                bucket: 0,
                start: Some(b"c".to_vec()),
                end: Some(b"e".to_vec())
            },
            KeyRange {
                bucket: 0,
                start: Some(b"e".to_vec()),
                end: None
            },
        ]
    );
    // Unseen keys land somewhere sensible.
    assert_eq!(p.partition_for(0, b""), 0);
    assert_eq!(p.partition_for(0, b"bb"), 0);
    assert_eq!(p.partition_for(0, b"c"), 1);
    assert_eq!(p.partition_for(0, b"dz"), 1);
    assert_eq!(p.partition_for(0, b"zzz"), 2);
    // A bucket that fits is one partition.
    let p = boundaries_by_target_size(&s, 5, 10, 10).unwrap();
    assert_eq!(p.ranges, vec![KeyRange::full(0)]);
}

#[test]
fn exact_sizes_are_even_and_at_most_target() {
    for rows in 1..60u64 {
        for target in 1..12u64 {
            let mut s = KeyStatistics::new(64);
            for i in 0..rows {
                s.add(7, &i.to_be_bytes());
            }
            let p = boundaries_by_target_size(&s, target, 1, 1000).unwrap();
            p.validate().unwrap();
            let keys: Vec<[u8; 8]> = (0..rows).map(|i| i.to_be_bytes()).collect();
            let counts = route(&p, keys.iter().map(|k| (7, &k[..])));
            assert_eq!(
                counts.len() as u64,
                rows.div_ceil(target),
                "rows {rows} target {target}"
            );
            let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
            assert!(
                max <= target && max - min <= 1,
                "rows {rows} target {target}: {counts:?}"
            );
        }
    }
}

#[test]
fn exact_count_boundaries() {
    let mut s = KeyStatistics::new(64);
    for i in 0..10u8 {
        s.add(0, &[i]);
    }
    let p = boundaries_by_count(&s, 3);
    p.validate().unwrap();
    assert_eq!(p.len(), 3);
    let keys: Vec<[u8; 1]> = (0..10u8).map(|i| [i]).collect();
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    assert_eq!(counts, vec![4, 3, 3]);
    // More partitions than distinct keys: one per key.
    let mut s = KeyStatistics::new(64);
    for _ in 0..5 {
        s.add(0, b"x");
        s.add(0, b"y");
    }
    let p = boundaries_by_count(&s, 8);
    p.validate().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p.partition_for(0, b"x"), 0);
    assert_eq!(p.partition_for(0, b"y"), 1);
    // n = 1 is the whole space of the bucket.
    assert_eq!(boundaries_by_count(&s, 1).ranges, vec![KeyRange::full(0)]);
}

#[test]
fn count_splits_around_heavy_keys() {
    let mut s = KeyStatistics::new(1024);
    for _ in 0..100 {
        s.add(0, b"a");
    }
    for k in [b"b", b"c", b"d"] {
        s.add(0, k);
    }
    let p = boundaries_by_count(&s, 4);
    p.validate().unwrap();
    assert_eq!(p.len(), 4);
    for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
        assert_eq!(p.partition_for(0, *k), i);
    }
}

#[test]
fn count_shares_partitions_over_buckets() {
    let mut s = KeyStatistics::new(256);
    for i in 0..3000u64 {
        s.add(1, &key(i));
    }
    for i in 0..1000u64 {
        s.add(2, &key(i));
    }
    let p = boundaries_by_count(&s, 8);
    p.validate().unwrap();
    assert_eq!(p.len(), 8);
    assert_eq!(p.partitions_of_bucket(1), 0..6);
    assert_eq!(p.partitions_of_bucket(2), 6..8);
    // Fewer partitions than buckets: one per bucket.
    let p = boundaries_by_count(&s, 1);
    assert_eq!(p.ranges, vec![KeyRange::full(1), KeyRange::full(2)]);
}

#[test]
fn count_on_approximate_sketch_is_balanced() {
    let mut s = KeyStatistics::default();
    let n = 200_000u64;
    for i in 0..n {
        s.add(0, &key(i));
    }
    assert!(!s.is_exact());
    let p = boundaries_by_count(&s, 10);
    p.validate().unwrap();
    assert_eq!(p.len(), 10);
    let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    for c in counts {
        let dev = (c as f64 - 20_000.0).abs() / 20_000.0;
        assert!(dev < 0.05, "{c}");
    }
}

#[test]
fn million_keys_three_workers_target_size() {
    let n = 1_000_000u64;
    let mut workers: Vec<KeyStatistics> = (0..3)
        .map(|_| KeyStatistics::new(DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET))
        .collect();
    for i in 0..n {
        workers[(i % 3) as usize].add(0, &key(i));
    }
    let mut merged = KeyStatistics::default();
    for w in &workers {
        merged.merge(w);
    }
    assert_eq!(merged.total_rows(), n);
    assert!(merged.retained_keys() <= DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET + 64 * 8);
    let p = boundaries_by_target_size(&merged, 300_000, 10, 100).unwrap();
    p.validate().unwrap();
    assert_eq!(p.len(), 4);
    let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    assert_eq!(counts.iter().sum::<u64>(), n);
    for &c in &counts {
        let dev = (c as f64 - 250_000.0).abs() / 250_000.0;
        assert!(dev < 0.05 && c <= 300_000, "{counts:?}");
    }
}

#[test]
fn sorted_input_stays_accurate() {
    // Ascending and descending streams (e.g. time-ordered data) are common.
    let n = 300_000u64;
    for descending in [false, true] {
        let mut s = KeyStatistics::new(1024);
        for i in 0..n {
            let v = if descending { n - 1 - i } else { i };
            s.add(0, &v.to_be_bytes());
        }
        let p = boundaries_by_target_size(&s, 50_000, 1, 100).unwrap();
        p.validate().unwrap();
        let keys: Vec<[u8; 8]> = (0..n).map(|i| i.to_be_bytes()).collect();
        let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
        assert_eq!(counts.len(), 7);
        let ideal = n as f64 / 7.0;
        for &c in &counts {
            assert!((c as f64 - ideal).abs() / ideal < 0.05 && c <= 50_000, "{counts:?}");
        }
    }
}

#[test]
fn heavy_duplicates() {
    let mut s = KeyStatistics::new(128);
    // 50% of rows share one key; the rest are distinct.
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for i in 0..40_000u64 {
        let k = if i % 2 == 0 { b"hot".to_vec() } else { key(i).to_vec() };
        s.add(0, &k);
        keys.push(k);
    }
    let p = boundaries_by_target_size(&s, 5_000, 1, 100).unwrap();
    p.validate().unwrap();
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    let hot = p.partition_for(0, b"hot");
    assert!(counts[hot] >= 20_000);
    for (i, &c) in counts.iter().enumerate() {
        if i != hot {
            assert!(c <= 5_000, "{counts:?}");
        }
    }
    // Only one distinct key: one partition, however big.
    let mut s = KeyStatistics::new(64);
    for _ in 0..10_000 {
        s.add(3, b"same");
    }
    let p = boundaries_by_target_size(&s, 100, 1, 100).unwrap();
    assert_eq!(p.ranges, vec![KeyRange::full(3)]);
    assert_eq!(boundaries_by_count(&s, 5).ranges, vec![KeyRange::full(3)]);
}

#[test]
fn exact_heavy_key_between_light_ones() {
    let mut s = KeyStatistics::new(1024);
    for i in 0..10u8 {
        s.add(0, &[1, i]);
    }
    for _ in 0..30 {
        s.add(0, &[2]);
    }
    for i in 0..10u8 {
        s.add(0, &[3, i]);
    }
    let p = boundaries_by_target_size(&s, 8, 1, 100).unwrap();
    p.validate().unwrap();
    let mut keys: Vec<Vec<u8>> = (0..10u8).map(|i| vec![1, i]).collect();
    keys.extend(std::iter::repeat_n(vec![2], 30));
    keys.extend((0..10u8).map(|i| vec![3, i]));
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    let heavy = p.partition_for(0, &[2]);
    assert_eq!(counts[heavy], 30);
    for (i, &c) in counts.iter().enumerate() {
        assert!(i == heavy || c <= 8, "{counts:?}");
    }
}

#[test]
fn many_buckets() {
    let mut s = KeyStatistics::new(256);
    let mut all = Vec::new();
    for b in 0..200i64 {
        let rows = (b as u64 % 7) * 30 + 1;
        for i in 0..rows {
            let k = key(i * 1000 + b as u64);
            s.add(b * 3_600_000, &k);
            all.push((b * 3_600_000, k));
        }
    }
    assert_eq!(s.bucket_count(), 200);
    let buckets: Vec<i64> = s.buckets().map(|(b, _)| b).collect();
    assert_eq!(buckets, (0..200).map(|b| b * 3_600_000).collect::<Vec<_>>());
    let p = boundaries_by_target_size(&s, 50, 200, 10_000).unwrap();
    p.validate().unwrap();
    let counts = route(&p, all.iter().map(|(b, k)| (*b, &k[..])));
    assert!(counts.iter().all(|&c| c > 0 && c <= 50), "{counts:?}");
    for b in 0..200i64 {
        let rows = (b as u64 % 7) * 30 + 1;
        let r = p.partitions_of_bucket(b * 3_600_000);
        assert_eq!(r.len() as u64, rows.div_ceil(50));
        assert!(p.ranges[r].iter().all(|x| x.bucket == b * 3_600_000));
    }
    assert!(p.partitions_of_bucket(5).is_empty());
    assert_eq!(p.buckets().len(), 200);
    // Unknown buckets still route somewhere.
    assert!(p.partition_for(-1, b"k") < p.len());
    assert!(p.partition_for(i64::MAX, b"k") < p.len());
    assert!(p.partition_for(1, b"k") < p.len());
}

#[test]
fn too_many_buckets_and_partitions() {
    let mut s = KeyStatistics::new(64);
    for b in 0..5 {
        for i in 0..10u64 {
            s.add(b, &key(i));
        }
    }
    match boundaries_by_target_size(&s, 100, 4, 100) {
        Err(MsqError::TooManyBuckets { max_buckets: 4 }) => {}
        other => panic!("{other:?}"),
    }
    assert!(boundaries_by_target_size(&s, 100, 5, 5).is_ok());
    match boundaries_by_target_size(&s, 100, 5, 4) {
        Err(MsqError::TooManyPartitions { max_partitions: 4 }) => {}
        other => panic!("{other:?}"),
    }
    match boundaries_by_target_size(&s, 3, 5, 19) {
        Err(MsqError::TooManyPartitions { max_partitions: 19 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(boundaries_by_target_size(&s, 3, 5, 20).unwrap().len(), 20);
}

#[test]
fn single_partition() {
    let p = RangePartitions::single();
    assert!(p.is_single());
    assert_eq!(p.len(), 1);
    assert_eq!(p.partition_for(0, b"x"), 0);
    assert_eq!(p.partition_for(i64::MAX, b""), 0);
    assert_eq!(p.partitions_of_bucket(12345), 0..1);
    assert!(p.ranges[0].contains(42, b"anything"));
    p.validate().unwrap();
}

#[test]
fn serde_round_trip() {
    let mut s = KeyStatistics::new(64);
    for i in 0..5000u64 {
        s.add((i % 3) as i64 - 1, &key(i)[..(i % 9) as usize]);
    }
    let json = serde_json::to_string(&s).unwrap();
    let back: KeyStatistics = serde_json::from_str(&json).unwrap();
    assert_eq!(back.total_rows(), 5000);
    assert_eq!(back.buckets().collect::<Vec<_>>(), s.buckets().collect::<Vec<_>>());
    // Memory counts capacity: a deserialized sketch holds exactly its keys.
    assert!(back.estimated_bytes() <= s.estimated_bytes());
    for b in -1..=1 {
        assert_eq!(back.weighted_keys(b), s.weighted_keys(b));
    }
    assert_eq!(
        boundaries_by_target_size(&back, 100, 10, 1000).unwrap(),
        boundaries_by_target_size(&s, 100, 10, 1000).unwrap()
    );
    // Deserialized statistics keep working.
    let mut back = back;
    back.add(1, b"more");
    back.merge(&s);
    assert_eq!(back.total_rows(), 10_001);

    let p = boundaries_by_count(&s, 4);
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<RangePartitions>(&json).unwrap(), p);

    // Corrupt input is rejected, not a panic later.
    let bad = json_with_wrong_lengths();
    assert!(serde_json::from_str::<KeyStatistics>(&bad).is_err());
}

fn json_with_wrong_lengths() -> String {
    r#"{"max_retained_keys_per_bucket":64,"max_retained_bytes":null,"effective_keys_per_bucket":64,
        "buckets":[{"bucket":0,"rows":2,"rng":1,"levels":[{"data":"6162","lens":[1,3]}]}]}"#
        .to_string()
}

#[test]
fn memory_is_bounded() {
    let mut s = KeyStatistics::new(DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET);
    let mut peak = 0;
    for i in 0..1_000_000u64 {
        s.add(0, &key(i));
        if i % 1000 == 0 {
            peak = peak.max(s.estimated_bytes());
        }
    }
    assert_eq!(s.total_rows(), 1_000_000);
    // Retained keys, times 3 for allocation slack (levels keep room for twice their
    // capacity, and vectors grow by doubling).
    let bound =
        3 * ((DEFAULT_MAX_RETAINED_KEYS_PER_BUCKET + 64 * MIN_LEVEL_CAPACITY) * (8 + ITEM_OVERHEAD_BYTES) + 4096);
    assert!(peak <= bound, "{peak} > {bound}");
    assert!(s.estimated_bytes() <= bound);
}

#[test]
fn byte_budget_downsamples() {
    let mut s = KeyStatistics::new(1024).with_max_retained_bytes(64 * 1024);
    for b in 0..100i64 {
        for i in 0..2000u64 {
            s.add(b, &key(i));
        }
    }
    assert!(s.effective_keys_per_bucket() < 1024);
    // At the smallest capacity, 100 buckets hold about 3 KB each (allocations included).
    assert!(s.estimated_bytes() <= 64 * 1024 + 300 * 1024, "{}", s.estimated_bytes());
    assert_eq!(s.total_rows(), 200_000);
    let p = boundaries_by_target_size(&s, 1000, 100, 1000).unwrap();
    p.validate().unwrap();
    // Coarse sketches leave a wider safety margin: 2 or 3 partitions per bucket.
    assert!((200..=300).contains(&p.len()), "{}", p.len());
    let keys: Vec<[u8; 8]> = (0..2000).map(key).collect();
    for b in 0..100i64 {
        let counts = route(&p, keys.iter().map(|k| (b, &k[..])));
        assert_eq!(counts.iter().sum::<u64>(), 2000);
        assert_eq!(
            p.partitions_of_bucket(b).len(),
            counts.iter().filter(|&&c| c > 0).count()
        );
    }
}

#[test]
fn merge_of_exact_sketches_is_exact() {
    let mut a = KeyStatistics::new(100);
    let mut b = KeyStatistics::new(100);
    a.add_many(0, [b"a".as_slice(), b"c"].into_iter());
    b.add_many(0, [b"b".as_slice(), b"d"].into_iter());
    b.add(9, b"z");
    a.merge(&b);
    assert!(a.is_exact());
    assert_eq!(a.buckets().collect::<Vec<_>>(), vec![(0, 4), (9, 1)]);
    assert_eq!(
        a.weighted_keys(0),
        vec![
            (b"a".to_vec(), 1),
            (b"b".to_vec(), 1),
            (b"c".to_vec(), 1),
            (b"d".to_vec(), 1)
        ]
    );
}

#[test]
fn merge_many_small_workers() {
    // Many workers each with an approximate sketch; the merge stays bounded and accurate.
    let mut merged = KeyStatistics::new(2048);
    let n = 400_000u64;
    for w in 0..20u64 {
        let mut s = KeyStatistics::new(2048);
        for i in (w..n).step_by(20) {
            s.add(0, &key(i));
        }
        merged.merge(&s);
    }
    assert_eq!(merged.total_rows(), n);
    assert!(merged.retained_keys() <= 2048 + 64 * 8);
    let p = boundaries_by_target_size(&merged, 110_000, 1, 100).unwrap();
    assert_eq!(p.len(), 4);
    let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
    let counts = route(&p, keys.iter().map(|k| (0, &k[..])));
    for &c in &counts {
        assert!((c as f64 - 100_000.0).abs() / 100_000.0 < 0.05, "{counts:?}");
    }
}

#[test]
fn partitions_needed_count_rows_not_distinct_keys() {
    let mut s = KeyStatistics::new(64);
    for _ in 0..1000 {
        s.add(0, &key(7));
    }
    // One key the sketch cannot cut, but 1,000 rows at 1 row per partition need 1,000.
    match boundaries_by_target_size(&s, 1, 5, 999) {
        Err(MsqError::TooManyPartitions { max_partitions: 999 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(boundaries_by_target_size(&s, 1, 5, 1000).unwrap().len(), 1);
}
