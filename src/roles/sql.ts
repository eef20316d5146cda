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
