import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { type PrepareEvent, prepareConnectedRun, prepareRun } from '../../src/engine/prepare.js';

const ROOT = new URL('../../', import.meta.url).pathname;

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** inventory.example.yaml in a fresh folder (its own state directory), with `edit` applied to the text. */
async function exampleInventoryFile(edit: (text: string) => string = (text) => text): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-prepare-'));
  made.push(dir);
  const text = (await readFile(join(ROOT, 'inventory.example.yaml'), 'utf8')).replace('source: ./examples/app', `source: ${join(ROOT, 'examples', 'app')}`);
  const file = join(dir, 'inventory.yaml');
  await writeFile(file, edit(text));
  return file;
}

describe('preparing a run: select → secrets → roles', () => {
  it('selects the hosts --limit names, then renders each in inventory order, saying so as it goes', async () => {
    const file = await exampleInventoryFile();
    const events: PrepareEvent[] = [];
    const context = await prepareRun(file, ['db1,web'], (event) => events.push(event));
    expect(events).toEqual([
      { type: 'selected', hosts: ['web1', 'web2', 'db1'] },
      { type: 'rendered', host: 'web1' },
      { type: 'rendered', host: 'web2' },
      { type: 'rendered', host: 'db1' },
    ]);
    expect(context.desires.map((desire) => desire.host)).toEqual(['web1', 'web2', 'db1']);
  });

  it('refuses an invalid inventory with its located issues, before selecting anything', async () => {
    const file = await exampleInventoryFile((text) => text.replace('vip_prefix: 24', 'vip_prefix: 99'));
    const events: PrepareEvent[] = [];
    const refusal = await prepareRun(file, undefined, (event) => events.push(event)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as UserError).message).toMatch(/is not valid; nothing was changed:\n {2}\S+:\d+:\d+ vip_prefix/);
    expect((refusal as UserError).details).toMatchObject({ issues: [expect.objectContaining({ path: 'vip_prefix' })] });
    expect(events).toEqual([]);
  });
});

describe('preparing a connected run', () => {
  it('renders and connects, and reports the hosts it could not reach (here: no key to log in with, so no network is needed)', async () => {
    const file = await exampleInventoryFile((text) => text.replace('identity_file: ~/.ssh/id_ed25519', 'identity_file: ./no-such-key    '));
    const events: PrepareEvent[] = [];
    const { context, fleet, forks } = await prepareConnectedRun(file, ['db'], { acceptNewHostKeys: false, onEvent: (event) => events.push(event) });
    fleet.close();
    expect(forks).toBe(2);
    expect(context.desires.map((desire) => desire.host)).toEqual(['db1', 'db2']);
    expect([...fleet.failures].map(([host, failure]) => `${host}: ${failure.message.includes('cannot read the identity file')}`)).toEqual([
      'db1: true',
      'db2: true',
    ]);
    expect(events[0]).toEqual({ type: 'selected', hosts: ['db1', 'db2'] });
    expect(events.filter((event) => event.type === 'rendered')).toEqual([
      { type: 'rendered', host: 'db1' },
      { type: 'rendered', host: 'db2' },
    ]);
    expect(events.filter((event) => event.type === 'connected')).toEqual([{ type: 'connected', connected: 0, failed: 2 }]);
  });
});
