import { quoteCommand, quoteWord } from '../core/shell.js';
import { LOCAL_TLS_PORT, ROTATION_PREVIOUS_SUFFIX, ROTATION_RESTORE_SUFFIX } from '../roles/web.js';
import type { HostCertificates } from './plan.js';

/**
 * The shell text rotate-certs runs on a web host besides the engine's change and handler scripts
 * (which install the pair and reload nginx): reading what it serves, and keeping and restoring
 * the previous pair. Every path is quoted by quoteWord.
 */

const DEPLOYED_MARKER = '@@deployed';

/**
 * Prints the leaf nginx serves to a client asking for `domain` on the loopback listener (the one
 * without PROXY protocol), then the certificate file as it is on disk. Reads only.
 */
export function readCertificatesScript(domain: string, certificateFile: string): string {
  const handshake = quoteCommand(['timeout', '10', 'openssl', 's_client', '-connect', `127.0.0.1:${LOCAL_TLS_PORT}`, '-servername', domain]);
  return [
    `${handshake} </dev/null 2>/dev/null | openssl x509 2>/dev/null`,
    `echo ${DEPLOYED_MARKER}`,
    `cat ${quoteWord(certificateFile)} 2>/dev/null`,
    // A missing file or a failed handshake is an answer here, not an error.
    'true',
  ].join('\n');
}

export function parseCertificatesReading(stdout: string): HostCertificates {
  const marker = stdout.search(new RegExp(`^${DEPLOYED_MARKER}$`, 'm'));
  const servedText = marker >= 0 ? stdout.slice(0, marker) : stdout;
  const deployedText = marker >= 0 ? stdout.slice(marker + DEPLOYED_MARKER.length + 1) : '';
  const reading: HostCertificates = {};
  if (servedText.includes('-----BEGIN CERTIFICATE-----')) reading.served = servedText.trim() + '\n';
  if (deployedText.length > 0) reading.deployed = deployedText;
  return reading;
}

/**
 * Copies each file to its `.infra-previous` (mode and owner kept), or clears a stale copy when it
 * does not exist. A stale copy is removed first: cp would write into it with its old mode.
 */
export function backupScript(paths: readonly string[]): string {
  const lines = paths.map((path) => {
    const file = quoteWord(path);
    const previous = quoteWord(path + ROTATION_PREVIOUS_SUFFIX);
    return `rm -f -- ${previous} || exit 1; if [ -e ${file} ]; then cp -a -- ${file} ${previous} || exit 1; fi`;
  });
  return [...lines, 'echo @@done'].join('\n');
}

/**
 * Puts each file back from its `.infra-previous`, by a copy renamed into place so that nginx never
 * reads half a file; a file that had no previous copy did not exist before, and is removed.
 */
export function restoreScript(paths: readonly string[], thenRun: readonly string[] = []): string {
  const lines = paths.map((path) => {
    const file = quoteWord(path);
    const previous = quoteWord(path + ROTATION_PREVIOUS_SUFFIX);
    const staged = quoteWord(path + ROTATION_RESTORE_SUFFIX);
    return `if [ -e ${previous} ]; then rm -f -- ${staged} && cp -a -- ${previous} ${staged} && mv -f -- ${staged} ${file} || exit 1; else rm -f -- ${file} || exit 1; fi`;
  });
  return [...lines, ...thenRun, 'echo @@done'].join('\n');
}

/**
 * Removes each file's `.infra-previous` copy (and a restore's staged copy a cut run may have left):
 * run once the host serves the new pair, or serves the previous one again after a restore.
 */
export function discardPreviousScript(paths: readonly string[]): string {
  const copies = paths.flatMap((path) => [path + ROTATION_PREVIOUS_SUFFIX, path + ROTATION_RESTORE_SUFFIX]);
  return [`rm -f -- ${copies.map(quoteWord).join(' ')} || exit 1`, 'echo @@done'].join('\n');
}
