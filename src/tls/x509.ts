// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// installed before it loads: ES modules evaluate their imports in order, so this one comes first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

// Node's own WebCrypto does the signing and checking: no native add-on, no openssl subprocess.
x509.cryptoProvider.set(webcrypto as Crypto);

export { x509 };
