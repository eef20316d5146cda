import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exampleComments, INVENTORY_DOC_COMMAND, inventoryReference, inventoryRows } from '../../src/inventory/docs.js';
import { KNOWN_VARS } from '../../src/inventory/vars.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = readFileSync(`${ROOT}inventory.example.yaml`, 'utf8');

describe('docs/inventory.md', () => {
  it('is what the generator makes from the schema and inventory.example.yaml today', () => {
    const committed = readFileSync(`${ROOT}docs/inventory.md`, 'utf8');
    const fresh = inventoryReference(EXAMPLE);
    if (committed !== fresh) {
      expect.fail(`docs/inventory.md is stale (the schema or inventory.example.yaml changed): run \`${INVENTORY_DOC_COMMAND}\` and commit the result`);
    }
  });
});

describe('the inventory reference generator', () => {
  const rows = new Map(inventoryRows(EXAMPLE).map((row) => [row.path, row]));

  it('has a row for every key of the schema, with type, default and allowed values', () => {
    expect(rows.get('vip_prefix')).toMatchObject({ type: 'integer 8–29', default: '`24`' });
    expect(rows.get('ssh.connect_timeout')).toMatchObject({ type: 'number > 0, ≤ 300', default: '`10`' });
    expect(rows.get('tls.source')).toMatchObject({ type: 'one of `ca`, `files`', default: '`ca`' });
    expect(rows.get('domain')).toMatchObject({ type: 'string: a DNS name such as www.example.com', default: 'required' });
    expect(rows.get('firewall.admin_sources')).toMatchObject({ type: 'list of IPv4 address or CIDR', default: 'required' });
    expect(rows.get('hosts.<host>.roles')).toMatchObject({ type: 'list of one of `lb`, `web`, `app`, `db`, `monitor`' });
    // Which secret sources a key takes comes from the schema itself: sudo passwords cannot be generated.
    expect(rows.get('db.password')).toMatchObject({ type: 'secret: `env:NAME`, `file:PATH`, `generate`', default: '`generate`' });
    expect(rows.get('ssh.sudo.password')?.type).toBe('secret: `env:NAME`, `file:PATH`');
    expect([...rows.keys()]).toEqual(expect.arrayContaining(['templates_dir', 'tls.chain_file', 'hosts.<host>.ssh.host_key', 'groups.<group>.vars']));
  });

  it('describes every var the roles read, from the comment of vars in the example', () => {
    const described = rows.get('vars')?.description ?? '';
    for (const name of Object.keys(KNOWN_VARS)) expect(described, `${name} is not in inventory.example.yaml's list of vars`).toContain(`<br>\`${name}\`: `);
  });

  it('takes descriptions from the comments above, beside and below a key, and from commented-out keys', () => {
    expect(rows.get('domain')?.description).toBe("The site's public name; DNS publishes it as an A record pointing at `vip`.");
    // A trailing comment continued on the next line, under the first.
    expect(rows.get('ssh.known_hosts')?.description).toBe('host keys are verified against this file (default ~/.ssh/known_hosts; see --accept-new-host-keys)');
    // Keys the example only shows commented out.
    expect(rows.get('templates_dir')).toMatchObject({
      description: 'Optional: a folder of .ejs templates that override the built-in ones of the same name.',
      example: '`./my-templates`',
    });
    expect(rows.get('tls.cert_file')?.description).toBe('files only, required: the certificate (PEM)');
    expect(rows.get('hosts.<host>.ssh.host_key')?.description).toBe('pin instead of known_hosts (ssh-keyscan ADDRESS | ssh-keygen -lf - prints it)');
    // One sentence over two commented-out lines stays one sentence.
    expect(rows.get('ssh.sudo')?.description).toBe(
      'for a non-root user: run commands through passwordless sudo, or through sudo with a password (a secret: env:NAME or file:PATH)',
    );
  });

  it('falls back to what the key overrides, or the hint of its "missing" message, where the example says nothing', () => {
    expect(rows.get('hosts.<host>.ssh.port')?.description).toBe("This host's own `ssh.port`, instead of the global one.");
    expect(rows.get('hosts.<host>.address')?.description).toBe("The host's IPv4 address or DNS name, e.g. 10.0.0.11 or web1.example.org.");
  });

  it('does not take prose that contains "word:" for a commented-out key', () => {
    const comments = exampleComments('# Each role needs the next one\n# somewhere: lb needs a web host.\nhosts:\n  a:\n    address: 10.0.0.1\n');
    expect(comments.get('hosts')?.description).toEqual([['Each role needs the next one', 'somewhere: lb needs a web host.']]);
    expect(comments.has('somewhere')).toBe(false);
    expect(comments.get('hosts.a.address')?.example).toBe('10.0.0.1');
  });
});
