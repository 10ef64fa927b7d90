import type { Command } from 'commander';
import { buildProgram } from './commands';

/** Every command of the tree, with its full name (`policies update`). */
function walk(command: Command, prefix: string[] = []): { name: string; command: Command }[] {
  const path = [...prefix, command.name()];
  return [{ name: path.join(' '), command }, ...command.commands.flatMap((sub) => walk(sub, path))];
}

/** The help a user sees for `command --help`, text added after it included. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

describe('the chainvault command tree', () => {
  const all = walk(buildProgram(() => undefined));

  it('covers every noun of the API and its updates and deletes', () => {
    const names = all.map((c) => c.name.replace(/^chainvault /, ''));
    expect(names).toEqual(
      expect.arrayContaining([
        'serve',
        'plugins uninstall',
        'networks update',
        'networks delete',
        'nodes update',
        'nodes delete',
        'destinations create',
        'destinations update',
        'destinations delete',
        'policies update',
        'policies delete',
        'policies pause',
        'policies resume',
        'policies show',
        'policies retention',
        'jobs list',
        'jobs show',
        'audit list',
        'restores list',
        'restores show',
        'templates create',
        'catalog check',
      ]),
    );
  });

  it.each(all.map((c) => [c.name, c.command] as const))('%s has a description and an example in its help', (_name, command) => {
    expect(command.description().trim().length).toBeGreaterThan(10);
    expect(helpOf(command)).toMatch(/\nExamples?:\n {2}\$ (chainvault |[A-Z_]+=)\S/);
  });

  it('documents in the top-level help what relative paths are relative to', () => {
    expect(helpOf(all[0].command)).toMatch(/relative to the current directory/);
  });
});
