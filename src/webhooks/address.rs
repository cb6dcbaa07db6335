//! Special-purpose addresses: where a webhook must not reach unless
//! `WEBHOOK_ALLOW_PRIVATE_NETWORKS` says so (server-side request forgery
//! into the operator's own network).
//!
//! Used twice: on a URL's literal host when a subscription is written, and
//! on every address a host name resolves to when a delivery connects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is loopback, private (RFC 1918), CGNAT (100.64.0.0/10),
/// link-local, unique-local (fc00::/7), multicast, unspecified, broadcast,
/// "this network" (0.0.0.0/8) or reserved (240.0.0.0/4) — or an
/// IPv4-mapped IPv6 form of one of these.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_special_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// The address a URL host names literally, if it does: an IPv6 literal in
/// brackets, or an IPv4 address in any form the system resolver accepts as
/// one (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`): one to four parts,
/// each decimal, octal (leading `0`) or hex (`0x`), the last filling the
/// remaining bytes.
pub fn literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<u64> = host.split('.').map(number).collect::<Option<Vec<u64>>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|&p| p > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - u32::try_from(leading.len()).ok()?);
    if *last >= 1u64 << rest_bits {
        return None;
    }
    let mut value = *last;
    for (i, &part) in leading.iter().enumerate() {
        value |= part << (24 - 8 * i);
    }
    Some(IpAddr::V4(Ipv4Addr::from(u32::try_from(value).ok()?)))
}

fn number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() && radix == 16 {
        return Some(0);
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special(host: &str) -> bool {
        is_special(literal(host).unwrap_or_else(|| panic!("{host} is a literal")))
    }

    #[test]
    fn shorthands_are_literal_addresses() {
        for (host, ip) in [
            ("127.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("10.1.2", "10.1.0.2"),
            ("8.8.8.8", "8.8.8.8"),
            ("127.0.0.1.", "127.0.0.1"),
            ("[::1]", "::1"),
        ] {
            assert_eq!(literal(host), Some(ip.parse().unwrap()), "{host}");
        }
        for name in [
            "example.com",
            "1.2.3.4.5",
            "256.1.1.1",
            "08.1.1.1",
            "1.2.3.x",
            "[zz]",
            "",
        ] {
            assert_eq!(literal(name), None, "{name}");
        }
    }

    #[test]
    fn special_purpose_ranges() {
        for host in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "[::1]",
            "[::]",
            "[fc00::1]",
            "[fd12::1]",
            "[fe80::1]",
            "[ff02::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(special(host), "{host}");
        }
        for host in [
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "[2001:db8::1]",
            "[::ffff:8.8.8.8]",
        ] {
            assert!(!special(host), "{host}");
        }
    }
}
