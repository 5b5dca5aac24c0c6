import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const cwd = tmpdir();

describe('command line parsing', () => {
  const usageErrors: Array<{ name: string; argv: string[]; says: RegExp }> = [
    { name: 'no command', argv: [], says: /Usage: gatehouse/ },
    { name: 'unknown command', argv: ['frobnicate'], says: /unknown command: frobnicate/ },
    { name: 'report without a subcommand', argv: ['report'], says: /report: missing subcommand/ },
    { name: 'report access without --subject', argv: ['report', 'access'], says: /--subject is required/ },
    {
      name: 'report in an unknown format',
      argv: ['report', 'incidents', '--format', 'pdf'],
      says: /--format must be one of json, csv, html/,
    },
    { name: 'unknown subcommand', argv: ['clients', 'rename'], says: /unknown subcommand rename/ },
    { name: 'missing subcommand', argv: ['keys'], says: /keys: missing subcommand/ },
    { name: 'unknown flag', argv: ['clients', 'list', '--colour'], says: /Unknown option '--colour'/ },
    { name: 'flag without its value', argv: ['clients', 'create', '--name'], says: /--name/ },
    { name: 'stray argument', argv: ['clients', 'list', 'extra'], says: /unexpected argument.*extra/i },
    {
      name: 'password on the command line is not an option',
      argv: ['users', 'create', '--username', 'alice', '--password', 'hunter22'],
      says: /Unknown option '--password'/,
    },
    { name: '--kid without --emergency', argv: ['keys', 'rotate', '--kid', 'abc'], says: /--emergency/ },
    { name: 'clients create without --name', argv: ['clients', 'create', '--grant', 'x'], says: /--name/ },
    { name: 'clients create without --grant', argv: ['clients', 'create', '--name', 'n'], says: /--grant/ },
    { name: 'users create without --username', argv: ['users', 'create'], says: /--username/ },
    { name: 'clients delete without an id', argv: ['clients', 'delete'], says: /client id is required/ },
    { name: 'config schema takes no flag', argv: ['config', 'schema', '--json'], says: /Unknown option/ },
  ];

  it.each(usageErrors)('$name: usage on stderr, exit 2', async ({ argv, says }) => {
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(says);
    expect(result.stderr).toContain('Usage: gatehouse <command>');
  });

  it('help prints usage on stdout and exits 0', async () => {
    for (const argv of [['help'], ['--help'], ['-h'], ['clients', '--help']]) {
      const result = await runCli(argv, { cwd });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: gatehouse <command>');
    }
  });

  it('a missing configuration file is a failure (exit 1) that names the file', async () => {
    const result = await runCli(['clients', 'list'], { cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/gatehouse\.yaml: cannot be read/);
  });
});
