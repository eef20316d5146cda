import { guardShell } from '../../src/resources/command.js';
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/core/types.js';
import { desiredForHost } from '../../src/roles/index.js';
import { CLEAR, testInventory, testSecrets } from './roles-fixture.js';

// Inventory: the full test topology (2 lb, 2 web, 2 app, db primary + 2 replicas), every host rendered.
const inventory = testInventory();
const resourcesOf = () => inventory.hosts.flatMap((host) => desiredForHost(inventory, host, testSecrets()).phases.flatMap((phase) => phase.resources));

function texts(resource: Resource): string[] {
  switch (resource.kind) {
    case 'file':
      return [resource.content];
    case 'command':
      return [resource.script, guardShell(resource.unless)];
    default:
      return [JSON.stringify(resource)];
  }
}

describe('secrets in rendered resources', () => {
  const resources = resourcesOf();

  for (const [name, clear] of Object.entries(CLEAR)) {
    it(`${name} appears only in resources that list it as a secret, never in a guard`, () => {
      const holders = resources.filter((resource) => texts(resource).some((text) => text.includes(clear)));
      expect(holders.length).toBeGreaterThan(0);
      for (const holder of holders) {
        expect(holder.kind === 'file' || holder.kind === 'command').toBe(true);
        if (holder.kind !== 'file' && holder.kind !== 'command') continue;
        expect(
          holder.secrets?.map((secret) => secret.reveal()),
          `${holder.kind} ${'path' in holder ? holder.path : holder.name}`,
        ).toContain(clear);
        if (holder.kind === 'command') expect(guardShell(holder.unless)).not.toContain(clear);
      }
    });
  }

  it('renders the same bytes for the same inventory, so a second run changes nothing', () => {
    const again = resourcesOf();
    expect(again.map(texts)).toEqual(resources.map(texts));
  });
});
