/** IPv4 addresses and CIDR blocks, enough for firewall sources and the VIP's subnet. */

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
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
