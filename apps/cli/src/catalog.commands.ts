/**
 * `chainvault catalog check`: reads the catalog the server's configuration names, directly and
 * without starting the server, so it works when the server cannot start.
 */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { example, type CommandKit } from './command-kit';

export function addCatalogCommands(program: Command, { show }: Pick<CommandKit, 'show'>): void {
  const catalog = example(program.command('catalog').description("the server's catalog, read directly on the server's machine (same CHAINVAULT_* configuration as serve)"), 'catalog check');
  example(
    catalog.command('check').description("SQLite's integrity check, or a PostgreSQL connection, and the schema's migrations; changes nothing. Exit code 0 only when healthy"),
    'catalog check',
    'CHAINVAULT_DATA_DIR=/var/lib/chainvault chainvault catalog check',
  ).action(async () => {
    // Loaded here: the other commands only speak HTTP and start faster without TypeORM.
    const { ConfigError, loadConfig } = await import('@chainvault/server');
    const { catalogOptions, checkCatalog, describeCatalogReport } = await import('@chainvault/core');
    let config;
    try {
      config = loadConfig();
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message);
      throw error;
    }
    const report = await checkCatalog(catalogOptions(config));
    show(report, () => describeCatalogReport(report));
    if (!report.healthy) process.exitCode = 1;
  });
}
