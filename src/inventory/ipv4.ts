/** IPv4 helpers for the inventory checks (addresses, the VIP's subnet, firewall sources). */

// Four decimal octets 0-255 without leading zeros: "010" is octal to some tools and decimal to
// others, so it is refused rather than guessed.
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function isIpv4(value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

/** An address or a CIDR block (`10.0.0.0/24`); a bare address means that one host. */
export function isIpv4Source(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || !isIpv4(address)) return false;
  return prefix === undefined || (/^(3[0-2]|[12]?\d)$/.test(prefix));
}

function toNumber(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** Whether two addresses are in the same network of the given prefix length. */
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(toNumber(a) / size) === Math.floor(toNumber(b) / size);
}

/** The network of `address` with the given prefix length, e.g. 10.0.0.0/24. */
export function networkOf(address: string, prefix: number): string {
  const size = 2 ** (32 - prefix);
  const network = Math.floor(toNumber(address) / size) * size;
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join('.')}/${prefix}`;
}
