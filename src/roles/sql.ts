import { createHash, createHmac } from 'node:crypto';
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

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** SHA-256 crypt (Ulrich Drepper's, `$5$`) of `password` with `salt` taken whole, as text in crypt's base64. */
export function sha256Crypt(password: string, salt: string, rounds = 5000): string {
  const p = Buffer.from(password);
  const s = Buffer.from(salt);
  const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
  const repeatTo = (block: Buffer, length: number) => Buffer.concat(Array.from({ length: Math.ceil(length / 32) }, () => block)).subarray(0, length);
  const b = sha(p, s, p);
  const aParts = [p, s, repeatTo(b, p.length)];
  for (let n = p.length; n > 0; n >>= 1) aParts.push(n & 1 ? b : p);
  let c = sha(...aParts);
  const pBytes = repeatTo(sha(...Array.from({ length: p.length }, () => p)), p.length);
  const sBytes = repeatTo(sha(...Array.from({ length: 16 + (c[0] as number) }, () => s)), s.length);
  for (let i = 0; i < rounds; i++) {
    const parts = [i & 1 ? pBytes : c];
    if (i % 3) parts.push(sBytes);
    if (i % 7) parts.push(pBytes);
    parts.push(i & 1 ? c : pBytes);
    c = sha(...parts);
  }
  const order = [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
  ];
  let out = '';
  const emit = (word: number, count: number) => {
    for (let k = 0; k < count; k++, word >>= 6) out += CRYPT_ALPHABET[word & 63];
  };
  for (const [x, y, z] of order) emit(((c[x as number] as number) << 16) | ((c[y as number] as number) << 8) | (c[z as number] as number), 4);
  emit(((c[31] as number) << 8) | (c[30] as number), 3);
  return out;
}

/**
 * MySQL's caching_sha2_password stored value: `$A$005$`, a 20-character salt, then SHA-256 crypt
 * of the password with that salt and 5000 rounds (sql/auth/sha2_password.cc). The salt is derived
 * from the password and the account, so that infra can check the stored value without reading it
 * first: stable for one account, different between accounts.
 */
export function cachingSha2PasswordHash(password: string, account: string): string {
  const salt = [...createHmac('sha256', password).update(account).digest().subarray(0, 20)].map((byte) => CRYPT_ALPHABET[byte & 63]).join('');
  return `$A$005$${salt}${sha256Crypt(password, salt)}`;
}
