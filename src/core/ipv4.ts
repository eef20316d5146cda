/** IPv4 addresses and CIDR blocks, enough for firewall sources and the VIP's subnet. */

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
  return prefix === undefined || /^(3[0-2]|[12]?\d)$/.test(prefix);
}

export function parseIPv4(text: string): number | undefined {
  if (!isIpv4(text)) return undefined;
  return text.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

export interface Cidr {
  network: number;
  prefix: number;
}

/** "10.0.0.0/24" or a bare address (a /32). */
export function parseCidr(text: string): Cidr | undefined {
  const [addressText, prefixText] = text.split('/');
  const address = parseIPv4(addressText ?? '');
  if (address === undefined) return undefined;
  const prefix = prefixText === undefined ? 32 : /^\d{1,2}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= 32)) return undefined;
  return { network: maskAddress(address, prefix), prefix };
}

function maskAddress(address: number, prefix: number): number {
  if (prefix === 0) return 0;
  const hostBits = 32 - prefix;
  return Math.floor(address / 2 ** hostBits) * 2 ** hostBits;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return maskAddress(address, cidr.prefix) === cidr.network;
}

/** Whether `source` ("any", an address or a CIDR) lets `address` in. */
export function sourceAllows(source: string, address: string): boolean {
  if (source === 'any') return true;
  const cidr = parseCidr(source);
  const value = parseIPv4(address);
  return cidr !== undefined && value !== undefined && cidrContains(cidr, value);
}

/** ufw writes a /32 as the bare address; compare sources in that form. */
export function normalizeSource(source: string): string {
  if (source === 'any' || source === '0.0.0.0/0') return 'any';
  return source.endsWith('/32') ? source.slice(0, -3) : source;
}

/** Whether two addresses are in the same network of the given prefix length. */
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  const first = parseIPv4(a);
  const second = parseIPv4(b);
  return first !== undefined && second !== undefined && maskAddress(first, prefix) === maskAddress(second, prefix);
}

/** The network of `address` with the given prefix length, e.g. 10.0.0.0/24. */
export function networkOf(address: string, prefix: number): string {
  const network = maskAddress(parseIPv4(address) ?? 0, prefix);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join('.')}/${prefix}`;
}
