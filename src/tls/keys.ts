import { KeyObject, createPrivateKey, webcrypto } from 'node:crypto';
import { Secret } from '../core/secret.js';
import type { KeyType } from '../inventory/model.js';

/** The signature every certificate infra issues carries, given the type of the signing key. */
export type SigningAlgorithm = { name: 'ECDSA'; hash: 'SHA-256' } | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

const ECDSA_SHA256: SigningAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
const RSA_SHA256: SigningAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

const RSA_BITS: Record<Exclude<KeyType, 'ecdsa-p256'>, number> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };

export interface GeneratedKey {
  pair: CryptoKeyPair;
  /** The private key as PKCS#8 PEM, the form written to the state directory and to hosts. */
  privateKeyPem: Secret;
}

export async function generateKey(keyType: KeyType): Promise<GeneratedKey> {
  const pair =
    keyType === 'ecdsa-p256'
      ? await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
      : await webcrypto.subtle.generateKey({ ...RSA_SHA256, modulusLength: RSA_BITS[keyType], publicExponent: new Uint8Array([1, 0, 1]) }, true, [
          'sign',
          'verify',
        ]);
  const pem = KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { pair, privateKeyPem: new Secret(pem.toString()) };
}

/**
 * Reads a PEM private key in any form OpenSSL writes (PKCS#8, PKCS#1 "RSA PRIVATE KEY", SEC1
 * "EC PRIVATE KEY"), since user-supplied keys come in all of them. The error says why, never
 * quoting the key.
 */
export function readPrivateKey(key: Secret): KeyObject {
  try {
    return createPrivateKey(key.reveal());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      throw new Error('the key is encrypted with a passphrase, which nginx cannot ask for: decrypt it with openssl pkey');
    }
    throw new Error('it is not a PEM private key');
  }
}

/** The inventory key type this key is, or undefined for any other kind (P-384, Ed25519, …). */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    return (Object.keys(RSA_BITS) as (keyof typeof RSA_BITS)[]).find((type) => RSA_BITS[type] === bits);
  }
  return undefined;
}

export function signingAlgorithmFor(keyType: KeyType): SigningAlgorithm {
  return keyType === 'ecdsa-p256' ? ECDSA_SHA256 : RSA_SHA256;
}

export interface SigningKey {
  key: CryptoKey;
  algorithm: SigningAlgorithm;
}

/** Turns a stored CA key into a WebCrypto key that can sign certificates. */
export async function importSigningKey(privateKey: KeyObject): Promise<SigningKey> {
  const keyType = keyTypeOf(privateKey);
  if (keyType === undefined) throw new Error(`a ${privateKey.asymmetricKeyType ?? 'unknown'} key of this size cannot sign for infra`);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const importParams = keyType === 'ecdsa-p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : RSA_SHA256;
  const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, importParams, false, ['sign']);
  return { key, algorithm: signingAlgorithmFor(keyType) };
}
