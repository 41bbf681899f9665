//! Sizes in bytes as people write them on command lines: `--max-memory 512MiB`.

/// Parses "1048576", "512K", "512KiB", "1.5G", "300MB": K/M/G/T and
/// KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("{text:?} is not a size: write bytes, or a number with K, M, G (powers of 1024) or KB, MB, GB")),
    };
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a size: it must start with a number"))?;
    let bytes = value * unit_scale as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?} is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units_are_binary_with_an_i_or_alone_and_decimal_with_b() {
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("512M"), Ok(512 << 20));
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("1.5G"), Ok(3 << 29));
        assert_eq!(parse("300MB"), Ok(300_000_000));
        assert!(parse("lots").unwrap_err().contains("\"lots\" is not a size"));
        assert!(parse("12 parsecs").is_err());
        assert!(parse("0").is_err());
    }
}
