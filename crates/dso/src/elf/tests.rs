use super::*;

const HOST: Host = Host { class: CLASS_64, data: DATA_LE, machine: 62 };

/// A little-endian ELF64 shared object header for x86-64 with one program header right after
/// it, describing a loadable segment of the whole file, and no section headers.
fn elf64(len: u64) -> (Vec<u8>, Vec<u8>) {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = CLASS_64;
    h[5] = DATA_LE;
    h[6] = 1;
    h[16..18].copy_from_slice(&ET_DYN.to_le_bytes());
    h[18..20].copy_from_slice(&62u16.to_le_bytes());
    h[32..40].copy_from_slice(&64u64.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes());
    h[54..56].copy_from_slice(&56u16.to_le_bytes());
    h[56..58].copy_from_slice(&1u16.to_le_bytes());
    let mut ph = vec![0u8; 56];
    ph[..4].copy_from_slice(&PT_LOAD.to_le_bytes());
    ph[32..40].copy_from_slice(&len.to_le_bytes());
    (h, ph)
}

fn check(h: &[u8], ph: &[u8], len: u64) -> Result<(), String> {
    let table = header_table(&h[..h.len().min(usize::try_from(len).unwrap())], len, HOST)?;
    assert_eq!(table, Table { offset: 64, size: ph.len() });
    check_segments(ph, h, len).and_then(|()| check_sections(h, len))
}

#[test]
fn a_whole_shared_object_passes() {
    let (h, ph) = elf64(4096);
    check(&h, &ph, 4096).unwrap();
}

/// An edit of the header and the program header of [`elf64`].
type Change = Box<dyn Fn(&mut Vec<u8>, &mut Vec<u8>)>;

#[test]
fn every_refusal_says_what_is_wrong() {
    let (h, ph) = elf64(4096);
    let cases: Vec<(Change, u64, &str)> = vec![
        (Box::new(|_, _| {}), 0, "the file is empty"),
        (Box::new(|_, _| {}), 10, "too short for an ELF header"),
        (Box::new(|_, _| {}), 40, "too short for an ELF header"),
        (Box::new(|h, _| h[1] = b'X'), 4096, "not an ELF file"),
        (Box::new(|h, _| h[4] = CLASS_32), 4096, "32-bit ELF file; this process is 64-bit"),
        (Box::new(|h, _| h[4] = 9), 4096, "ELF class 9"),
        (Box::new(|h, _| h[5] = DATA_BE), 4096, "big-endian; this process is little-endian"),
        (Box::new(|h, _| h[16] = 2), 4096, "an executable (ELF type 2), not a shared object"),
        (Box::new(|h, _| h[16] = 1), 4096, "a relocatable object"),
        (
            Box::new(|h, _| h[18..20].copy_from_slice(&183u16.to_le_bytes())),
            4096,
            "built for machine 183 (AArch64); this process runs on 62 (x86-64)",
        ),
        (Box::new(|h, _| h[56] = 0), 4096, "no program headers"),
        (Box::new(|h, _| h[54] = 8), 4096, "program header size 8 is too small"),
        (Box::new(|_, _| {}), 100, "program header table (bytes 64..120) extends past the end"),
        (
            Box::new(|h, _| h[56..58].copy_from_slice(&u16::MAX.to_le_bytes())),
            4096,
            "program header table",
        ),
        (
            Box::new(|h, _| h[40..48].copy_from_slice(&4000u64.to_le_bytes())),
            4096,
            "section header size 0 is too small",
        ),
        (
            Box::new(|h, _| {
                h[40..48].copy_from_slice(&4000u64.to_le_bytes());
                h[58..60].copy_from_slice(&64u16.to_le_bytes());
                h[60..62].copy_from_slice(&2u16.to_le_bytes());
            }),
            4096,
            "section header table (bytes 4000..4128) extends past the end",
        ),
        (
            Box::new(|_, ph| ph[8..16].copy_from_slice(&100u64.to_le_bytes())),
            4096,
            "loadable segment 0 (bytes 100..4196) extends past the end of the file (4096 bytes)",
        ),
        (
            Box::new(|_, ph| {
                ph[0] = 2;
                ph[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
            }),
            4096,
            "segment 0 (from byte 18446744073709551615) has an impossible size",
        ),
    ];
    for (change, len, expected) in cases {
        let (mut h, mut ph) = (h.clone(), ph.clone());
        change(&mut h, &mut ph);
        let shown = &h[..h.len().min(usize::try_from(len).unwrap())];
        let err = header_table(shown, len, HOST)
            .and_then(|_| check_segments(&ph, &h, len))
            .and_then(|()| check_sections(&h, len))
            .unwrap_err();
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }
}

#[test]
fn the_section_header_count_escape_needs_one_entry_inside_the_file() {
    let (mut h, ph) = elf64(4096);
    h[40..48].copy_from_slice(&4090u64.to_le_bytes());
    h[58..60].copy_from_slice(&64u16.to_le_bytes());
    let err = check(&h, &ph, 4096).unwrap_err();
    assert!(err.contains("section header table (bytes 4090..4154)"), "{err}");
}

#[test]
fn this_process_is_its_own_host() {
    let host = Host::current();
    assert_eq!(host.machine, machine_of_arch(std::env::consts::ARCH));
    let exe = File::open("/proc/self/exe").unwrap();
    let len = exe.metadata().unwrap().len();
    // A position-independent executable is ET_DYN, so the test binary passes if it is one.
    let mut header = [0u8; 18];
    exe.read_exact_at(&mut header, 0).unwrap();
    if header[16] == ET_DYN as u8 {
        check_file(&exe, len, host).map_err(|e| format!("{e:?}")).unwrap();
    }
}
