import { describe, expect, it } from 'vitest';
import { isIpv4, isIpv4Source, networkOf, normalizeSource, sameSubnet, sourceAllows } from '../../src/core/ipv4.js';

describe('ipv4', () => {
  it('accepts dotted quads and refuses leading zeros, out-of-range octets and other shapes', () => {
    expect(isIpv4('10.77.0.1')).toBe(true);
    expect(['010.0.0.1', '256.0.0.1', '10.0.0', '10.0.0.1/32', ''].map(isIpv4)).toEqual([false, false, false, false, false]);
    expect(isIpv4Source('10.77.0.0/24')).toBe(true);
    expect(isIpv4Source('10.77.0.0/33')).toBe(false);
  });

  it('lets a source in when the address is inside it', () => {
    expect(sourceAllows('10.77.0.0/24', '10.77.0.1')).toBe(true);
    expect(sourceAllows('10.77.0.1/32', '10.77.0.2')).toBe(false);
    expect(sourceAllows('any', '192.0.2.9')).toBe(true);
    expect(sourceAllows('0.0.0.0/0', '192.0.2.9')).toBe(true);
  });

  it('compares subnets and names networks', () => {
    expect(sameSubnet('10.0.0.11', '10.0.0.100', 24)).toBe(true);
    expect(sameSubnet('10.0.1.11', '10.0.0.100', 24)).toBe(false);
    expect(networkOf('10.0.0.100', 24)).toBe('10.0.0.0/24');
  });

  it('writes sources as ufw records them', () => {
    expect(normalizeSource('10.0.0.1/32')).toBe('10.0.0.1');
    expect(normalizeSource('0.0.0.0/0')).toBe('any');
    expect(normalizeSource('10.0.0.0/24')).toBe('10.0.0.0/24');
  });
});
