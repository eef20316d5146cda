import { createHash } from 'node:crypto';
import { sqlString } from '../core/mysql-client.js';

/*
 * SQL text for MariaDB/MySQL in their default sql_mode (backslash escapes on): every inventory
 * value and secret put in SQL goes through these and sqlString (src/core/mysql-client.ts).
 */

export function sqlIdentifier(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function sqlAccount(user: string, host: string): string {
  return `${sqlString(user)}@${sqlString(host)}`;
}

/**
 * The mysql_native_password hash of a password (`*` + SHA1(SHA1(password)) in upper-case hex).
 * Accounts are created with the hash, so the clear password is never sent to the server, and a
 * guard can check that an account has the desired password without knowing it.
 */
export function nativePasswordHash(password: string): string {
  const sha1 = (data: Buffer | string) => createHash('sha1').update(data).digest();
  return '*' + sha1(sha1(password)).toString('hex').toUpperCase();
}

// Edwards25519 (RFC 8032, section 5.1): the field prime, the curve constant d and the base point.
const P = 2n ** 255n - 19n;
const D = (-121665n * modPow(121666n, P - 2n)) % P;
const BASE: EdPoint = (() => {
  const x = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
  const y = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
  return [x, y, 1n, (x * y) % P];
})();

/** A point in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z. */
type EdPoint = [bigint, bigint, bigint, bigint];

function mod(value: bigint): bigint {
  const rest = value % P;
  return rest < 0n ? rest + P : rest;
}

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let square = base % P;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * square) % P;
    square = (square * square) % P;
  }
  return result;
}

/** The unified addition of RFC 8032 (a = -1): it also doubles. */
function edAdd([x1, y1, z1, t1]: EdPoint, [x2, y2, z2, t2]: EdPoint): EdPoint {
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(2n * D * t1 * t2);
  const d = mod(2n * z1 * z2);
  const [e, f, g, h] = [b - a, d - c, d + c, b + a];
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

/**
 * MariaDB's ed25519 account "hash": the Ed25519 public key whose secret is the password itself
 * (SHA-512 of the password, clamped, times the base point; plugin/auth_ed25519/ref10/sign.c), in
 * base64 without its padding. Like nativePasswordHash it lets accounts be created and checked
 * without the clear password reaching the server; unlike it, it is not a fast unsalted digest.
 */
export function ed25519PasswordHash(password: string): string {
  const digest = createHash('sha512').update(password).digest();
  digest[0] = (digest[0] as number) & 248;
  digest[31] = ((digest[31] as number) & 127) | 64;
  let scalar = 0n;
  for (let i = 31; i >= 0; i--) scalar = (scalar << 8n) | BigInt(digest[i] as number);
  let result: EdPoint = [0n, 1n, 1n, 0n];
  let addend = BASE;
  for (let s = scalar; s > 0n; s >>= 1n) {
    if (s & 1n) result = edAdd(result, addend);
    addend = edAdd(addend, addend);
  }
  const inverse = modPow(result[2], P - 2n);
  const x = (result[0] * inverse) % P;
  let encoded = (result[1] * inverse) % P;
  if (x & 1n) encoded |= 1n << 255n;
  const bytes = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((encoded >> BigInt(8 * i)) & 255n);
  return bytes.toString('base64').replace(/=+$/, '');
}
