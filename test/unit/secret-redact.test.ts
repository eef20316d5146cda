import { describe, expect, it } from 'vitest';
import { buildChangeScript } from '../../src/apply/scripts.js';
import { mysqlScript, sqlString } from '../../src/core/mysql-client.js';
import { redact, Secret } from '../../src/core/secret.js';
import { quoteWord } from '../../src/core/shell.js';
import type { FileResource } from '../../src/core/types.js';
import { appPhase, environmentValue } from '../../src/roles/app.js';
import { hostOf, testInventory, testSecrets } from './roles-fixture.js';

// A password with every character the encoders escape: quotes, backslash, dollar, backquote.
const CLEAR = 'pa\'ss"w\\ord$`x';
const password = new Secret(CLEAR);

/** What is left of the password in `text`, in any of the forms the tests look for. */
function leaks(text: string): string[] {
  const forms = [CLEAR, environmentValue(CLEAR).slice(1, -1), quoteWord(CLEAR), sqlString(CLEAR).slice(1, -1), "pa'\\''ss", "pa''ss", "pa\\'ss"];
  return forms.filter((form) => text.includes(form));
}

describe('redaction of a secret in the forms infra writes it in', () => {
  it('takes it out of app.env, where it is double-quoted for systemd (what `render --out` wrote in clear)', () => {
    const inventory = testInventory();
    const secrets = testSecrets();
    const db = { ...secrets.db, appPassword: password } as NonNullable<typeof secrets.db>;
    const phase = appPhase(inventory, hostOf(inventory, 'app1'), { ...secrets, db });
    const env = phase.resources.find((r): r is FileResource => r.kind === 'file' && r.path === '/etc/app/app.env') as FileResource;
    expect(env.content).toContain(`DB_PASSWORD=${environmentValue(CLEAR)}`);

    const shown = redact(env.content, env.secrets ?? []);

    expect(shown).toContain('DB_PASSWORD="[secret]"');
    expect(leaks(shown)).toEqual([]);
  });

  it('takes it out of a shell word, an SQL literal and SQL sent through the shell by mysqlScript', () => {
    const statement = `CHANGE MASTER TO MASTER_USER = 'repl', MASTER_PASSWORD = ${sqlString(CLEAR)};`;
    const text = [`echo ${quoteWord(CLEAR)}`, statement, mysqlScript([statement])].join('\n');

    const shown = redact(text, [password]);

    expect(shown).toBe(
      [
        "echo '[secret]'",
        "CHANGE MASTER TO MASTER_USER = 'repl', MASTER_PASSWORD = '[secret]';",
        `printf '%s\\n' 'CHANGE MASTER TO MASTER_USER = '\\''repl'\\'', MASTER_PASSWORD = '\\''[secret]'\\'';' | mysql`,
      ].join('\n'),
    );
  });

  it('takes it out of JSON, where quotes and backslashes are escaped', () => {
    const shown = redact(JSON.stringify({ error: `login failed for ${CLEAR}` }), [password]);

    expect(shown).toBe('{"error":"login failed for [secret]"}');
  });

  it('takes it out of the base64 of a file in a change script, at any offset and across line breaks', () => {
    for (const before of ['', 'x', 'xy', 'a line long enough to push the secret across the 76-character wrap of base64: ']) {
      const file: FileResource = {
        kind: 'file',
        path: '/etc/app/app.env',
        content: `${before}${CLEAR}\n`,
        mode: '0600',
        owner: 'root',
        group: 'root',
        secrets: [password],
      };
      const script = buildChangeScript([{ phase: 'app', resource: file, action: 'create', reason: '' }], [], []);
      const body = (s: string) => (s.match(/<<'INFRA_EOF'\n([\s\S]*?)INFRA_EOF/) as RegExpMatchArray)[1] as string;
      expect(Buffer.from(body(script).replace(/\n/g, ''), 'base64').toString()).toContain(CLEAR);

      const shown = redact(script, [password]);

      expect(shown).toContain('[secret]');
      expect(Buffer.from(body(shown).replace(/\n|\[secret\]/g, ''), 'base64').toString()).not.toContain('ss"w');
    }
  });

  it('takes out each line of a secret of several lines (a PEM key) that is shown alone, but not its BEGIN and END lines', () => {
    const key = new Secret('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n');

    expect(redact('nginx: [emerg] bad key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC in -----BEGIN PRIVATE KEY-----', [key])).toBe(
      'nginx: [emerg] bad key line [secret] in -----BEGIN PRIVATE KEY-----',
    );
  });

  it('leaves text without the secret as it was, and a short secret in clear form only', () => {
    expect(redact('nothing to hide here: c2VjcmV0', [password])).toBe('nothing to hide here: c2VjcmV0');
    expect(redact('pin 1234, base64 MTIzNA==', [new Secret('1234')])).toBe('pin [secret], base64 MTIzNA==');
  });
});
