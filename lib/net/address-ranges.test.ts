import { describe, expect, it } from "vitest";
import { classifyAddress, type SsrfCode } from "./address-ranges";

type Row = [ip: string, code: SsrfCode, range: string];

const ipv4: Row[] = [
  ["127.0.0.1", "ssrf_loopback", "127.0.0.0/8"],
  ["127.255.255.254", "ssrf_loopback", "127.0.0.0/8"],
  ["10.0.0.1", "ssrf_private", "10.0.0.0/8"],
  ["10.255.255.255", "ssrf_private", "10.0.0.0/8"],
  ["172.16.0.1", "ssrf_private", "172.16.0.0/12"],
  ["172.31.255.254", "ssrf_private", "172.16.0.0/12"],
  ["192.168.1.1", "ssrf_private", "192.168.0.0/16"],
  ["169.254.169.254", "ssrf_link_local", "169.254.169.254/32"],
  ["169.254.0.1", "ssrf_link_local", "169.254.0.0/16"],
  ["100.64.0.1", "ssrf_cgnat", "100.64.0.0/10"],
  ["100.127.255.254", "ssrf_cgnat", "100.64.0.0/10"],
  ["100.100.100.200", "ssrf_cgnat", "100.64.0.0/10"], // Alibaba Cloud metadata
  ["224.0.0.1", "ssrf_multicast", "224.0.0.0/4"],
  ["239.255.255.250", "ssrf_multicast", "224.0.0.0/4"],
  ["0.0.0.0", "ssrf_unspecified", "0.0.0.0/8"],
  ["0.1.2.3", "ssrf_unspecified", "0.0.0.0/8"],
  ["255.255.255.255", "ssrf_broadcast", "255.255.255.255/32"],
  ["192.0.0.8", "ssrf_reserved", "192.0.0.0/24"],
  ["192.0.2.1", "ssrf_reserved", "192.0.2.0/24"],
  ["198.51.100.7", "ssrf_reserved", "198.51.100.0/24"],
  ["203.0.113.9", "ssrf_reserved", "203.0.113.0/24"],
  ["198.18.0.1", "ssrf_reserved", "198.18.0.0/15"],
  ["198.19.255.254", "ssrf_reserved", "198.18.0.0/15"],
  ["192.88.99.1", "ssrf_reserved", "192.88.99.0/24"],
  ["240.0.0.1", "ssrf_reserved", "240.0.0.0/4"],
  ["255.255.255.254", "ssrf_reserved", "240.0.0.0/4"],
];

const ipv6: Row[] = [
  ["::1", "ssrf_loopback", "::1/128"],
  ["0:0:0:0:0:0:0:1", "ssrf_loopback", "::1/128"],
  ["::", "ssrf_unspecified", "::/128"],
  ["fc00::1", "ssrf_private", "fc00::/7"],
  ["fd12:3456:789a::1", "ssrf_private", "fc00::/7"],
  ["fd00:ec2::254", "ssrf_private", "fd00:ec2::254/128"], // AWS IPv6 metadata
  ["fe80::1", "ssrf_link_local", "fe80::/10"],
  ["fe80::1%eth0", "ssrf_link_local", "fe80::/10"],
  ["febf:ffff::1", "ssrf_link_local", "fe80::/10"],
  ["fec0::1", "ssrf_private", "fec0::/10"],
  ["ff02::1", "ssrf_multicast", "ff00::/8"],
  ["ff0e::fb", "ssrf_multicast", "ff00::/8"],
  ["2001:db8::1", "ssrf_reserved", "2001:db8::/32"],
  ["3fff::1", "ssrf_reserved", "3fff::/20"],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "ssrf_reserved", "2001::/32"], // Teredo
  ["2001:2::1", "ssrf_reserved", "2001:2::/48"],
  ["100::1", "ssrf_reserved", "100::/64"],
  ["::7f00:1", "ssrf_reserved", "::/96"], // deprecated IPv4-compatible
  ["5f00::1", "ssrf_reserved", "5f00::/16"],
  ["4000::1", "ssrf_reserved", "not 2000::/3"],
  ["64:ff9b:1::a00:1", "ssrf_private", "64:ff9b:1::/48"],
];

/** IPv6 forms that carry an IPv4 address are judged by that address. */
const embedded: Row[] = [
  ["::ffff:127.0.0.1", "ssrf_loopback", "127.0.0.0/8"],
  ["::ffff:7f00:1", "ssrf_loopback", "127.0.0.0/8"],
  ["0:0:0:0:0:ffff:7f00:1", "ssrf_loopback", "127.0.0.0/8"],
  ["::ffff:169.254.169.254", "ssrf_link_local", "169.254.169.254/32"],
  ["::ffff:10.1.2.3", "ssrf_private", "10.0.0.0/8"],
  ["::ffff:0.0.0.0", "ssrf_unspecified", "0.0.0.0/8"],
  ["::ffff:0:7f00:1", "ssrf_loopback", "127.0.0.0/8"], // IPv4-translated (RFC 6145)
  ["64:ff9b::7f00:1", "ssrf_loopback", "127.0.0.0/8"], // NAT64
  ["64:ff9b::a9fe:a9fe", "ssrf_link_local", "169.254.169.254/32"],
  ["64:ff9b::c0a8:101", "ssrf_private", "192.168.0.0/16"],
  ["2002:7f00:1::", "ssrf_loopback", "127.0.0.0/8"], // 6to4
  ["2002:a9fe:a9fe::1", "ssrf_link_local", "169.254.169.254/32"],
  ["2002:6440:1::", "ssrf_cgnat", "100.64.0.0/10"],
  ["2002:e000:1::", "ssrf_multicast", "224.0.0.0/4"],
];

const publicAddresses = [
  "8.8.8.8",
  "1.1.1.1",
  "93.184.215.14",
  "172.15.255.255", // just below 172.16/12
  "172.32.0.0", // just above
  "100.63.255.255", // just below 100.64/10
  "100.128.0.0", // just above
  "169.253.255.255",
  "192.0.1.255",
  "198.17.255.255",
  "198.20.0.0",
  "223.255.255.255",
  "11.0.0.1",
  "2606:4700::1111",
  "2001:4860:4860::8888",
  "2a00:1450:4001:80b::200e",
  "::ffff:8.8.8.8", // IPv4-mapped public
  "64:ff9b::808:808", // NAT64 of 8.8.8.8
  "2002:808:808::1", // 6to4 of 8.8.8.8
];

describe("classifyAddress", () => {
  it.each(ipv4)("classifies IPv4 %s as %s (%s)", (ip, code, range) => {
    expect(classifyAddress(ip)).toMatchObject({ code, range });
  });

  it.each(ipv6)("classifies IPv6 %s as %s (%s)", (ip, code, range) => {
    expect(classifyAddress(ip)).toMatchObject({ code, range });
  });

  it.each(embedded)("classifies %s by the IPv4 address it carries: %s (%s)", (ip, code, range) => {
    expect(classifyAddress(ip)).toMatchObject({ code, range });
  });

  it.each(publicAddresses)("answers null for the public, routable address %s", (ip) => {
    expect(classifyAddress(ip)).toBeNull();
  });

  it("names cloud metadata in the label, and the embedded IPv4 for an IPv4-mapped address", () => {
    expect(classifyAddress("169.254.169.254")?.label).toBe("a link-local address (cloud metadata)");
    expect(classifyAddress("::ffff:7f00:1")?.label).toBe(
      "an IPv4-mapped IPv6 address carrying 127.0.0.1, a loopback address",
    );
    expect(classifyAddress("2002:7f00:1::")?.label).toContain("6to4");
  });

  it("parses the non-canonical IPv4 spellings the same way getaddrinfo would", () => {
    for (const ip of ["127.1", "0x7f.1", "2130706433", "0x7f000001"]) {
      expect(classifyAddress(ip)?.code, ip).toBe("ssrf_loopback");
    }
  });

  it("fails closed on a string that is not an IP address", () => {
    for (const ip of ["", "localhost", "example.com", "999.1.1.1", "1.2.3.4.5", "::g"]) {
      expect(classifyAddress(ip), ip).toMatchObject({ code: "ssrf_reserved", range: "invalid" });
    }
  });
});
