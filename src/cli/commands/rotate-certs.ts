import type { Command } from 'commander';
import type { RotateOptions } from '../actions/rotate-certs.js';
import type { GlobalOptions } from '../options.js';

export function registerRotateCerts(program: Command): void {
  program
    .command('rotate-certs')
    .argument('<inventory>', 'the inventory YAML file')
    .description("Replace the web tier's TLS certificate host by host behind the load balancer, with no failed request.")
    .option('--dry-run', 'show what would change on each host (old → new) and change nothing')
    .option('--only-expiring-within <days>', 'rotate only the web hosts whose certificate expires within this many days')
    .option('--wait-lock <seconds>', 'wait this long for another infra run holding a host to finish (default: refuse at once)')
    .option('--rotate-ca', "replace infra's CA itself, with an overlap for clients (two runs, see below)")
    .addHelpText(
      'after',
      `
The new certificate of every web host is checked before any host is touched: the key matches
it, its chain leads to the CA, it covers the domain, it is not expired and already valid. A
problem is named and nothing changes anywhere (exit 1). With tls.source ca (the default) infra's
CA issues each web host a new certificate (names: the domain, the host's name and address; key
type tls.key_type). With tls.source files the inventory's files are installed: replace them
first (e.g. after certbot renew).

Then one web host at a time: drain it on every lb host (HAProxy runtime API) → keep its current
pair as *.infra-previous → install key (0600) and certificate atomically → nginx -t → reload →
confirm by a TLS handshake on the host (127.0.0.1:8443, SNI the domain) that it serves the new
serial and fingerprint → store the new certificate in the state directory → remove the
*.infra-previous copies (no old private key stays on the host) → put it back. On a failure the
previous pair is restored and reloaded, its copies removed, the host put back, and the run stops. A
provision after a rotation changes nothing, nor after a failed one (except a failed --rotate-ca
switch: it then gives the hosts not yet switched a certificate of the new CA); a new
rotate-certs run carries on where the failed one stopped.

--rotate-ca replaces infra's CA with an overlap, in two runs of the same command:
  1st run  makes a new CA, kept aside in <state_dir>/ca-next/, and writes the trust bundle
           <state_dir>/ca/ca-bundle.crt (current CA + new CA). No host changes.
           Give the bundle to every client that checks the site against infra's CA
           BEFORE the 2nd run: only clients that have it keep working.
  2nd run  switches every web host to a certificate from the new CA, host by host. Clients
           trusting the bundle accept every host before, during and after the switch; a client
           trusting only the old CA fails on each host as it switches. The new CA becomes
           ca/ca.crt; the old one is kept as ca/ca-previous.crt, and stays in the bundle, until
           the next --rotate-ca.

Output per host: old → new serial, SHA-256 fingerprint and expiry; with --json
{"ok", "dryRun", "hosts": [{"host", "status", "reason", "old", "new", "error"?}], "ca"?}.
Exit 0 when every host to rotate was rotated (and on --dry-run), 1 on a refusal or a failure.

Examples:
  infra rotate-certs inventory.yaml --dry-run
  infra rotate-certs inventory.yaml --yes
  infra rotate-certs inventory.yaml --only-expiring-within 30 --yes --json
  infra rotate-certs inventory.yaml --rotate-ca           # 1st run: new CA and bundle
  infra rotate-certs inventory.yaml --rotate-ca --yes     # 2nd run, once clients have the bundle`,
    )
    .action(async (file: string, options: RotateOptions, command: Command) => {
      const { rotateCerts } = await import('../actions/rotate-certs.js');
      process.exitCode = await rotateCerts(file, options, command.optsWithGlobals<GlobalOptions>());
    });
}
