/**
 * The web console at /: the static files `npm run build` writes to apps/console/dist, served
 * from this server (no CDN, works offline) without a token — the page asks for one and sends
 * it with each API call. A strict Content-Security-Policy lets the page run only its own
 * scripts and styles and talk only to this server.
 */
import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where the built console is: apps/console/dist of this checkout, found from this file (in
 * libs/api/src/http or libs/api/dist/http, both four levels below the workspace root).
 */
export const CONSOLE_DIRECTORY = join(__dirname, '..', '..', '..', '..', 'apps', 'console', 'dist');

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // 'self' covers the same host's ws:/wss: for the jobProgress subscription.
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chainvault: console not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The web console is not built</h1>
<p>Build it with <code>npm run build</code> (or only the console: <code>npx nx run @chainvault/console:build</code>), then reload this page.</p>
<p>The API answers meanwhile at <code>/graphql</code>, and GraphiQL at <a href="/graphiql">/graphiql</a>.</p>
</body></html>`;

/** Asset names vite writes (name-hash.ext): nothing with a slash or a leading dot reaches the file system. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

function secure(response: Response): Response {
  return response.setHeader('Content-Security-Policy', CONSOLE_CSP).setHeader('X-Frame-Options', 'DENY').setHeader('X-Content-Type-Options', 'nosniff').setHeader('Referrer-Policy', 'no-referrer');
}

/** Answers GET / from the console folder `dist`: its index.html, or how to build it. */
export function sendConsolePage(dist: string, response: Response): void {
  const index = join(dist, 'index.html');
  secure(response).setHeader('Cache-Control', 'no-cache');
  if (!existsSync(index)) {
    response.status(503).type('html').send(NOT_BUILT);
    return;
  }
  response.type('html').sendFile(index);
}

/** Answers GET /assets/<name> from the console folder `dist`; anything else is not found. */
export function sendConsoleAsset(dist: string, name: string, response: Response): void {
  const file = ASSET_NAME.test(name) ? join(dist, 'assets', name) : null;
  if (!file || !existsSync(file)) throw new NotFoundException(`no console asset ${name}`);
  // Vite names each asset by its content's hash, so a name never changes its content.
  secure(response).setHeader('Cache-Control', 'public, max-age=31536000, immutable');
  response.sendFile(file);
}

@Controller()
export class ConsoleController {
  @Get()
  page(@Res() response: Response): void {
    sendConsolePage(CONSOLE_DIRECTORY, response);
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() response: Response): void {
    sendConsoleAsset(CONSOLE_DIRECTORY, name, response);
  }
}
